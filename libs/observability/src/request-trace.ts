import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER } from './observability.constants';

/** What the one log line of a request says besides method, URL, status and duration. */
export interface RequestTrace {
  requestId: string;
  traceparent?: string;
  n?: number;
  correlationId?: string;
  outcome?: string;
}

/** The raw request with the trace a handler attached for the log line. */
export type TracedRequest = IncomingMessage & { trace?: RequestTrace };

const SAFE_ID = /^[\w.:@/+=-]{1,128}$/;
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** The caller's X-Request-Id if it is a sane token, else a new UUID. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}

/** The caller's `traceparent` if it is well-formed W3C trace context. */
export function traceparentOf(headers: IncomingHttpHeaders): string | undefined {
  const given = headers[TRACEPARENT_HEADER];
  return typeof given === 'string' && TRACEPARENT.test(given) ? given : undefined;
}

/** Starts the trace of a request; the request log line includes whatever the handler adds to it. */
export function startTrace(request: TracedRequest, requestId: string): RequestTrace {
  request.trace = { requestId, traceparent: traceparentOf(request.headers) };
  return request.trace;
}
