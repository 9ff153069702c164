import { ProxyTracerProvider, trace, Tracer, TracerProvider } from '@opentelemetry/api';
import { TRACER_NAME } from './tracing.constants';

/** The API's no-op provider: what a proxy with no SDK registered delegates to. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * True when some SDK registered a tracer provider: without one, the span
 * helpers return a shared no-op and allocate nothing. Works with any SDK the
 * host app brings, not only ours.
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** The tracer last looked up, and the provider (and its delegate) it came from. */
let cached: { provider: TracerProvider; delegate: TracerProvider; tracer: Tracer } | undefined;

/**
 * This project's tracer, looked up once per registered provider: the API's
 * `getTracer` builds a key string and looks it up in the SDK's map on every
 * call, for each span.
 */
export function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  if (cached?.provider !== provider || cached.delegate !== delegate) {
    cached = { provider, delegate, tracer: provider.getTracer(TRACER_NAME) };
  }
  return cached.tracer;
}
