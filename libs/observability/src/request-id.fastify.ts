import type { LogLevel } from '@app/runtime';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { PinoLogger } from 'nestjs-pino';
import { RequestLine, writeRequestLine } from './request-line';
import { requestIdOf, TracedRequest } from './request-trace';
import { REQUEST_ID_HEADER } from './observability.constants';
import { nameHttpSpan } from './tracing/http-route.span';
import { tracingActive } from './tracing/tracing.active';

/** A longer URL is cut in the log line: a client must not make one line kilobytes long. */
const LOGGED_URL_CHARS = 256;

/** Fastify options giving each request the caller's X-Request-Id, or a new UUID, as its id. */
export const requestIdFastifyOptions = {
  genReqId: (req: { headers: IncomingHttpHeaders }): string => requestIdOf(req.headers),
};

/**
 * Echoes the request id in the X-Request-Id response header (errors
 * included) and writes one JSON line per request when the level is info or
 * lower (`LOG_LEVEL`): request id, method, URL (its first 256 characters), status, duration, plus the trace the
 * handler filled in (n, correlation id, outcome, traceparent).
 */
export function traceRequests(app: NestFastifyApplication, level: LogLevel): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    // routeOptions builds an object per read: only read it when an SDK may want the route.
    if (tracingActive()) nameHttpSpan(request.routeOptions.url);
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  if (level !== 'info' && level !== 'debug' && level !== 'verbose') return;
  fastify.addHook('onResponse', (request, reply, done) => {
    // nestjs-pino creates its root logger when the app initialises, after this hook is added.
    const log = PinoLogger.root as PinoLogger['logger'] | undefined;
    if (log === undefined) return done();
    const method = request.method;
    const url = request.url.length > LOGGED_URL_CHARS ? `${request.url.slice(0, LOGGED_URL_CHARS)}…` : request.url;
    const statusCode = reply.statusCode;
    const trace = (request.raw as TracedRequest).trace;
    const line =
      trace === undefined
        ? new RequestLine(request.id, method, url, statusCode, durationMsOf(reply.elapsedTime))
        : new RequestLine(
            trace.requestId,
            method,
            url,
            statusCode,
            durationMsOf(reply.elapsedTime),
            trace.n,
            trace.correlationId,
            trace.outcome,
            trace.traceparent,
          );
    writeRequestLine(log, line, `${method} ${url} ${statusCode}`);
    done();
  });
}

/** Milliseconds to the microsecond. */
function durationMsOf(elapsedMs: number): number {
  return Math.round(elapsedMs * 1000) / 1000;
}
