import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import { Sampler, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

/** What startTracing sets up; the env set-up and the tests each fill it in. */
export interface TracingSetup {
  /** service.name unless OTEL_SERVICE_NAME says otherwise (OTEL_RESOURCE_ATTRIBUTES adds to it). */
  serviceName: string;
  sampler?: Sampler;
  spanProcessors: SpanProcessor[];
}

/** A running SDK: `shutdown` flushes what is batched (bounded by the processors) and unregisters everything. */
export interface Tracing {
  readonly provider: TracerProvider;
  shutdown(): Promise<void>;
}

/**
 * Registers the trace SDK globally: W3C trace context and baggage
 * propagation and the tracer provider. No context manager and no http
 * instrumentation: on Node 20 AsyncLocalStorage hooks every promise, and both
 * together cost the gateway about half its throughput. The spans pass their
 * context on explicitly instead (the gateway's HTTP span: traceHttpServer).
 */
export function startTracing(setup: TracingSetup): Tracing {
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': setup.serviceName }))
    .merge(detectResources({ detectors: [serviceNameEnvDetector, resourceAttributesEnvDetector] }));
  const provider = new TracerProvider({ resource, sampler: setup.sampler, spanProcessors: setup.spanProcessors });
  trace.setGlobalTracerProvider(provider);
  return {
    provider,
    async shutdown(): Promise<void> {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
}

/** OpenTelemetry's own warnings (diag) go to `log`; its debug chatter is left off. */
export function routeDiagnostics(logger: Parameters<typeof diag.setLogger>[0]): void {
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}
