import type { LogLevel } from '@app/runtime';
import type { ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import { requestIdOf, TracedRequest } from './request-trace';

/**
 * nestjs-pino settings shared by both apps: JSON lines at `LOG_LEVEL`, and
 * one line per HTTP request carrying its request id plus the trace the
 * handler filled in (n, correlation id, outcome).
 */
export function loggerOptions(app: string, level: LogLevel): Params {
  return {
    pinoHttp: {
      level: level === 'verbose' ? 'trace' : level,
      base: { app },
      // Fastify has already set req.id (see requestIdFastifyOptions); this covers any other adapter.
      genReqId: (req) => requestIdOf(req.headers),
      customProps: (req) => ({ ...(req as TracedRequest).trace }),
      customSuccessMessage: (req, res, ms) => `${req.method} ${req.url} ${res.statusCode} in ${ms.toFixed(1)} ms`,
      customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'warn' : 'info'),
      serializers: {
        req: (req: TracedRequest) => ({ method: req.method, url: req.url }),
        res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      },
      quietReqLogger: true,
    },
  };
}
