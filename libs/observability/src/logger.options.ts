import type { LogLevel } from '@app/runtime';
import type { Params } from 'nestjs-pino';
import { stdoutLogLines } from './log-lines.destination';
import { logTraceFields } from './tracing/log-trace.mixin';

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
      // Batched asynchronous writes, flushed every 100 ms and synchronously at exit (log-lines.destination).
      stdoutLogLines(),
    ],
  };
}
