import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER } from './trace.constants';

/** What the one log line of a request says besides method, URL, status and duration. */
export interface RequestTrace {
  requestId: string;
  traceparent?: string;
  n?: number;
  correlationId?: string;
  outcome?: string;
}

/** The raw request as pino-http leaves it: `id` set, and our trace attached for the log line. */
export type TracedRequest = IncomingMessage & { id?: string | number; trace?: RequestTrace };

const SAFE_ID = /^[\w.:@/+=-]{1,128}$/;
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** The caller's X-Request-Id if it is a sane token, else a new UUID. */
export function requestIdOf(headers: IncomingMessage['headers']): string {
  const given = headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}

/** The caller's `traceparent` if it is well-formed W3C trace context. */
export function traceparentOf(headers: IncomingMessage['headers']): string | undefined {
  const given = headers[TRACEPARENT_HEADER];
  return typeof given === 'string' && TRACEPARENT.test(given) ? given : undefined;
}

/** The trace of a request, created on first use. */
export function traceOf(request: TracedRequest): RequestTrace {
  request.trace ??= {
    requestId: String(request.id ?? requestIdOf(request.headers)),
    traceparent: traceparentOf(request.headers),
  };
  return request.trace;
}
