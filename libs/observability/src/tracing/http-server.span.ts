import { Context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { showSpanInLogs } from './log-trace.mixin';
import { tracer, tracingActive } from './tracing.active';
import {
  ERROR_TYPE,
  HTTP_REQUEST_METHOD,
  HTTP_RESPONSE_STATUS_CODE,
  HTTP_ROUTE,
  NETWORK_PROTOCOL_VERSION,
  SERVER_ADDRESS,
  SERVER_PORT,
  URL_PATH,
  URL_SCHEME,
} from './tracing.constants';

/** Probes and scrapes: a root trace every few seconds each, of no interest. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/** Each traced request's SERVER span, and its context (what the RPC client span is the child of). */
const spans = new WeakMap<FastifyRequest, { span: Span; context: Context }>();

/**
 * The SERVER span of each HTTP request (`GET /fib/:n`), from two Fastify
 * hooks rather than the http instrumentation, which cost the gateway far more
 * per request. It continues an incoming `traceparent`; handlers get its context
 * from `httpTraceContext` and pass it on explicitly (no async context manager).
 * Register before the request log hook: that line then carries the span's ids.
 * Without an SDK registered, no hook is added.
 */
export function traceHttpServer(fastify: FastifyInstance): void {
  if (!tracingActive()) return;
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (!UNTRACED_PATHS.test(request.url)) startHttpSpan(request);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const traced = spans.get(request);
    if (traced !== undefined) {
      spans.delete(request);
      endHttpSpan(traced.span, reply.statusCode);
    }
    done();
  });
}

/** The context of the request's SERVER span, for the spans of the calls it makes; undefined when not traced. */
export function httpTraceContext(request: FastifyRequest): Context | undefined {
  return spans.get(request)?.context;
}

function startHttpSpan(request: FastifyRequest): void {
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const { method } = request;
  const route = request.routeOptions.url;
  const span = tracer().startSpan(
    route === undefined ? method : `${method} ${route}`,
    { kind: SpanKind.SERVER },
    parent,
  );
  // Set after the sampling decision, which needs none of them: a span sampled out costs no attribute work.
  if (span.isRecording()) {
    const path = request.url;
    const query = path.indexOf('?');
    const [address, port] = hostAndPort(request.headers.host);
    span.setAttributes({
      [HTTP_REQUEST_METHOD]: method,
      [HTTP_ROUTE]: route,
      [URL_PATH]: query < 0 ? path : path.slice(0, query),
      [URL_SCHEME]: 'http',
      [SERVER_ADDRESS]: address,
      [SERVER_PORT]: port,
      [NETWORK_PROTOCOL_VERSION]: request.raw.httpVersion,
    });
  }
  spans.set(request, { span, context: trace.setSpan(parent, span) });
}

/** server.address and server.port from the Host header (`name`, `name:port`, `[v6]:port`). */
function hostAndPort(host: string | undefined): [string | undefined, number | undefined] {
  if (host === undefined) return [undefined, undefined];
  const colon = host.lastIndexOf(':');
  if (colon < 0 || colon < host.lastIndexOf(']')) return [host, undefined];
  const port = Number(host.slice(colon + 1));
  return [host.slice(0, colon), Number.isInteger(port) ? port : undefined];
}

/** A 5xx is an error of the server's (a 4xx is the client's: the status stays unset, as the conventions say). */
function endHttpSpan(span: Span, statusCode: number): void {
  span.setAttribute(HTTP_RESPONSE_STATUS_CODE, statusCode);
  if (statusCode >= 500) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.setAttribute(ERROR_TYPE, String(statusCode));
  }
  span.end();
  // the request log line, written by the next onResponse hook, names this span
  showSpanInLogs(span.spanContext());
}
