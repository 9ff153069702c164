import { context, isSpanContextValid, trace } from '@opentelemetry/api';

/** What a log line of a traced call carries. */
export interface LogTraceFields {
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/**
 * pino `mixin`: the trace and span id of the active span, so a log line can
 * be found from a trace and back. Without an SDK there is never an active
 * span, and the line gets nothing (pino merges into the object returned, so
 * it is a new one).
 */
export function logTraceFields(): LogTraceFields {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return {};
  return {
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
    trace_flags: spanContext.traceFlags.toString(16).padStart(2, '0'),
  };
}
