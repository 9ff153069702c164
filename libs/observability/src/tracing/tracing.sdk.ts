import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { isWrapped } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import {
  defaultResource,
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import { Sampler, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import * as http from 'node:http';

/** What startTracing sets up; the env set-up and the tests each fill it in. */
export interface TracingSetup {
  /** service.name unless OTEL_SERVICE_NAME says otherwise (OTEL_RESOURCE_ATTRIBUTES adds to it). */
  serviceName: string;
  sampler?: Sampler;
  spanProcessors: SpanProcessor[];
  /** An HTTP SERVER span per incoming request (the gateway's parent span); /health and /metrics are left out. */
  instrumentHttp: boolean;
}

/** A running SDK: `shutdown` flushes what is batched (bounded by the processors) and unregisters everything. */
export interface Tracing {
  readonly provider: TracerProvider;
  shutdown(): Promise<void>;
}

/** Probes and scrapes: a root trace every few seconds each, of no interest. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * Registers the trace SDK globally: the AsyncLocalStorage context manager,
 * W3C trace context and baggage propagation, the tracer provider, and the
 * http instrumentation. Must run before Nest and fastify are loaded.
 */
export function startTracing(setup: TracingSetup): Tracing {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': setup.serviceName }))
    .merge(detectResources({ detectors: [serviceNameEnvDetector, resourceAttributesEnvDetector] }));
  const provider = new TracerProvider({ resource, sampler: setup.sampler, spanProcessors: setup.spanProcessors });
  trace.setGlobalTracerProvider(provider);
  const unpatchHttp = setup.instrumentHttp ? instrumentHttp() : undefined;
  return {
    provider,
    async shutdown(): Promise<void> {
      unpatchHttp?.();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
}

/**
 * The http instrumentation patches `http` through a require hook. Where that
 * hook sees nothing (http loaded before it; Jest's own module registry), the
 * already-loaded module is patched directly: Server.prototype is shared.
 */
function instrumentHttp(): () => void {
  const instrumentation = new HttpInstrumentation({
    disableOutgoingRequestInstrumentation: true,
    ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
  });
  const definition = instrumentation.getModuleDefinitions().find((module) => module.name === 'http');
  const patched = (): boolean => isWrapped(Reflect.get(http.Server.prototype, 'emit'));
  if (!patched()) definition?.patch?.(http);
  return () => {
    instrumentation.disable();
    if (patched()) definition?.unpatch?.(http);
  };
}

/** OpenTelemetry's own warnings (diag) go to `log`; its debug chatter is left off. */
export function routeDiagnostics(logger: Parameters<typeof diag.setLogger>[0]): void {
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}
