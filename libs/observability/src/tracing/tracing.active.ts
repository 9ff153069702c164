import { ProxyTracerProvider, trace, Tracer } from '@opentelemetry/api';
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

export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}
