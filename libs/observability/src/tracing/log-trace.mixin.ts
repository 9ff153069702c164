import { context, isSpanContextValid, SpanContext, trace } from '@opentelemetry/api';

/** What a log line of a traced call carries. */
export interface LogTraceFields {
  trace_id?: string;
  span_id?: string;
  trace_flags?: string;
}

/** The span whose lines are being written now (see showSpanInLogs); undefined most of the time. */
let shown: SpanContext | undefined;
/** A microtask that forgets `shown` is queued: one per synchronous run, however many spans it shows. */
let forgetQueued = false;

function forget(): void {
  shown = undefined;
  forgetQueued = false;
}

/**
 * Log lines written from now until the current synchronous run ends (the next
 * microtask) carry `spanContext`. No async context manager is registered (on
 * Node 20 AsyncLocalStorage hooks every promise), so the spans put their
 * context here just before the lines that belong to them are written.
 */
export function showSpanInLogs(spanContext: SpanContext): void {
  shown = spanContext;
  if (forgetQueued) return;
  forgetQueued = true;
  queueMicrotask(forget);
}

/**
 * pino `mixin`: the trace and span id of the span shown (else of the active
 * span, for a host app with its own context manager), so a log line can be
 * found from a trace and back. Without an SDK the line gets nothing (pino
 * merges into the object returned, so it is a new one).
 */
export function logTraceFields(): LogTraceFields {
  const spanContext = spanInLogs();
  if (spanContext === undefined) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId, trace_flags: flagsOf(spanContext) };
}

/**
 * logTraceFields as pino writes them into a line: '' or `,"trace_id":…,"span_id":…,"trace_flags":…`
 * (a valid span context's ids are lowercase hex: nothing to escape).
 */
export function logTraceJson(): string {
  const spanContext = spanInLogs();
  if (spanContext === undefined) return '';
  return `,"trace_id":"${spanContext.traceId}","span_id":"${spanContext.spanId}","trace_flags":"${flagsOf(spanContext)}"`;
}

function spanInLogs(): SpanContext | undefined {
  const spanContext = shown ?? trace.getSpan(context.active())?.spanContext();
  return spanContext !== undefined && isSpanContextValid(spanContext) ? spanContext : undefined;
}

function flagsOf(spanContext: SpanContext): string {
  return spanContext.traceFlags.toString(16).padStart(2, '0');
}
