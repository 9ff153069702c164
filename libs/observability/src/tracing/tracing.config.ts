/** Which spans are kept, from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG. */
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/** The OTLP encodings this build sends (grpc is not among them). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** The SDK set-up the standard OTEL_* variables ask for. */
export interface TracingConfig {
  serviceName: string;
  exporter: 'otlp' | 'console' | 'none';
  /** OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: http/protobuf (OpenTelemetry's default) or http/json. */
  protocol: OtlpProtocol;
  sampler: SamplerName;
  ratio: number;
  /** Batch span processor: OTEL_BSP_* (the OpenTelemetry defaults). */
  batch: {
    maxQueueSize: number;
    maxExportBatchSize: number;
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
  };
  /** Settings that were not usable and what was done instead, one line each (OpenTelemetry's rule: warn, use the default). */
  warnings: string[];
}

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/**
 * The tracing set-up from the environment, or undefined when no OTEL_*
 * variable is set or OTEL_SDK_DISABLED is true: then no SDK is loaded and
 * the span helpers stay no-ops. `defaultServiceName` is used without OTEL_SERVICE_NAME.
 */
export function tracingConfigFromEnv(env: NodeJS.ProcessEnv, defaultServiceName: string): TracingConfig | undefined {
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  if (!Object.keys(env).some((name) => name.startsWith('OTEL_') && set(name) !== undefined)) return undefined;
  if (set('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const warnings: string[] = [];

  const exporterName = (set('OTEL_TRACES_EXPORTER') ?? 'otlp').split(',')[0].trim().toLowerCase();
  let exporter: TracingConfig['exporter'] = 'otlp';
  if (exporterName === 'console' || exporterName === 'none' || exporterName === 'otlp') exporter = exporterName;
  else warnings.push(`OTEL_TRACES_EXPORTER=${exporterName} is not supported (otlp, console, none): using otlp`);

  const protocolName =
    set('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? set('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  let protocol: OtlpProtocol = 'http/protobuf';
  if (protocolName === 'http/json') protocol = protocolName;
  else if (protocolName !== 'http/protobuf' && exporter === 'otlp') {
    warnings.push(`OTLP protocol ${protocolName} is not supported by this build: spans are sent as http/protobuf`);
  }

  const samplerName = (set('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase();
  let sampler: SamplerName = 'parentbased_always_on';
  if ((SAMPLERS as readonly string[]).includes(samplerName)) sampler = samplerName as SamplerName;
  else warnings.push(`OTEL_TRACES_SAMPLER=${samplerName} is not supported: using parentbased_always_on`);
  let ratio = 1;
  const ratioText = set('OTEL_TRACES_SAMPLER_ARG');
  if (ratioText !== undefined && sampler.endsWith('traceidratio')) {
    const parsed = Number(ratioText);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) ratio = parsed;
    else warnings.push(`OTEL_TRACES_SAMPLER_ARG=${ratioText} is not a ratio from 0 to 1: using 1`);
  }

  const count = (name: string, fallback: number): number => {
    const text = set(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (Number.isInteger(value) && value > 0) return value;
    warnings.push(`${name}=${text} is not a positive integer: using ${fallback}`);
    return fallback;
  };
  const maxQueueSize = count('OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  const batch = {
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, count('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512)),
    scheduledDelayMillis: count('OTEL_BSP_SCHEDULE_DELAY', 5000),
    exportTimeoutMillis: count('OTEL_BSP_EXPORT_TIMEOUT', 30000),
  };
  return {
    serviceName: set('OTEL_SERVICE_NAME') ?? defaultServiceName,
    exporter,
    protocol,
    sampler,
    ratio,
    batch,
    warnings,
  };
}
