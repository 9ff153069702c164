import { Logger } from '@nestjs/common';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  Sampler,
  SpanExporter,
  SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';
import { OncePerKindLog } from './once-per-kind.log';
import { OtlpProtobufTraceExporter } from './otlp-protobuf.exporter';
import { ReportingExporter } from './reporting.exporter';
import { SamplerName, TracingConfig } from './tracing.config';
import { routeDiagnostics, startTracing, Tracing } from './tracing.sdk';

/**
 * The SDK as the OTEL_* variables configure it: spans batched (a bounded
 * queue, dropped when full) to the OTLP/HTTP exporter, which reads its own
 * OTEL_EXPORTER_OTLP_* variables; trouble logged once per kind.
 */
export function startTracingFromConfig(config: TracingConfig): Tracing {
  const logger = new Logger('Tracing');
  const diagnostics = new OncePerKindLog((line) => logger.warn(line));
  routeDiagnostics(diagnostics);
  for (const warning of config.warnings) logger.warn(warning);
  const processors: SpanProcessor[] = [];
  const exporter = exporterOf(config, (line) => logger.warn(line));
  if (exporter !== undefined) processors.push(new BatchSpanProcessor({ exporter, ...config.batch }));
  setGlobalErrorHandler((error) => {
    if (error instanceof Error && exporter instanceof ReportingExporter && exporter.reported.has(error)) return;
    diagnostics.error(error instanceof Error ? error.message : JSON.stringify(error));
  });
  const tracing = startTracing({
    serviceName: config.serviceName,
    sampler: samplerOf(config.sampler, config.ratio),
    spanProcessors: processors,
  });
  logger.log(
    `tracing on: service ${config.serviceName}, exporter ${config.exporter}` +
      (config.exporter === 'otlp' ? ` ${config.protocol}` : '') +
      `, sampler ${config.sampler}` +
      (config.sampler.endsWith('traceidratio') ? ` ${config.ratio}` : ''),
  );
  return tracing;
}

function exporterOf(config: TracingConfig, log: (line: string) => void): SpanExporter | undefined {
  if (config.exporter === 'none') return undefined;
  if (config.exporter === 'console') return new ConsoleSpanExporter();
  const env = process.env;
  const target =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318 (default)';
  const otlp = config.protocol === 'http/json' ? new OTLPTraceExporter() : new OtlpProtobufTraceExporter();
  return new ReportingExporter(otlp, target, log);
}

function samplerOf(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
