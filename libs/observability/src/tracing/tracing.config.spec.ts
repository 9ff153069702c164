import { tracingConfigFromEnv } from './tracing.config';

describe('tracingConfigFromEnv', () => {
  it('no OTEL_* variable (or only empty ones): no SDK at all', () => {
    expect(tracingConfigFromEnv({ PATH: '/bin', OTEL_SERVICE_NAME: '' }, 'gateway')).toBeUndefined();
  });

  it('OTEL_SDK_DISABLED=true wins over everything', () => {
    expect(
      tracingConfigFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }, 'gateway'),
    ).toBeUndefined();
  });

  it("one variable turns it on with OpenTelemetry's defaults", () => {
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }, 'gateway')).toEqual({
      serviceName: 'gateway',
      exporter: 'otlp',
      protocol: 'http/protobuf',
      sampler: 'parentbased_always_on',
      ratio: 1,
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30000 },
      warnings: [],
    });
  });

  it('reads the service name, exporter, sampler and its ratio, and the batch settings', () => {
    const config = tracingConfigFromEnv(
      {
        OTEL_SERVICE_NAME: 'edge',
        OTEL_TRACES_EXPORTER: 'console',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.01',
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      'gateway',
    );
    expect(config).toMatchObject({
      serviceName: 'edge',
      exporter: 'console',
      protocol: 'http/json',
      sampler: 'parentbased_traceidratio',
      ratio: 0.01,
      batch: { maxQueueSize: 100, maxExportBatchSize: 100, scheduledDelayMillis: 200 },
      warnings: [],
    });
  });

  it('unusable values: a warning each and the default (OpenTelemetry does not stop an app for them)', () => {
    const config = tracingConfigFromEnv(
      {
        OTEL_TRACES_EXPORTER: 'zipkin',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_TRACES_SAMPLER: 'traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '2',
        OTEL_BSP_MAX_QUEUE_SIZE: '-1',
      },
      'gateway',
    );
    expect(config).toMatchObject({ exporter: 'otlp', sampler: 'traceidratio', ratio: 1 });
    expect(config?.batch.maxQueueSize).toBe(2048);
    expect(config?.warnings).toHaveLength(4);
    expect(config?.warnings.join('\n')).toMatch(
      /grpc is not supported by this build: spans are sent as http\/protobuf/,
    );
  });
});
