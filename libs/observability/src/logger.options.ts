import type { LogLevel } from '@app/runtime';
import type { Params } from 'nestjs-pino';
import { destination } from 'pino';
import { logTraceFields } from './tracing/log-trace.mixin';

/**
 * Log lines are written to stdout in batches of this many bytes (about ten
 * request lines), asynchronously: one write per line cost the gateway about
 * 7 % of its CPU under load (profile in docs/benchmarks-gateway.md). pino
 * flushes what is left synchronously at exit, so no line is lost.
 */
const LOG_BATCH_BYTES = 4096;
/** A line waits at most this long for its batch to fill (quiet periods, tests reading the log). */
const LOG_FLUSH_MS = 100;

/**
 * nestjs-pino settings shared by both apps: Nest's own logs as JSON lines at
 * `LOG_LEVEL`. Its per-request middleware is left off: it runs every request
 * inside an AsyncLocalStorage, which on Node 20 hooks every promise and was
 * measured here to halve the gateway's throughput (about 11.7k → 4.9k req/s).
 * The one line per request comes from a Fastify hook instead (traceRequests).
 */
export function loggerOptions(app: string, level: LogLevel): Params {
  return {
    forRoutes: [],
    pinoHttp: [
      // mixin: a traced call's lines carry its trace_id and span_id (nothing without an SDK).
      { level: level === 'verbose' ? 'trace' : level, base: { app }, mixin: logTraceFields },
      destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS }),
    ],
  };
}
