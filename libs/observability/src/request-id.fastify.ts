import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { requestIdOf } from './request-trace';
import { REQUEST_ID_HEADER } from './trace.constants';

/** Fastify options giving each request the caller's X-Request-Id, or a new UUID, as its id (pino-http reuses it). */
export const requestIdFastifyOptions = {
  genReqId: (req: { headers: IncomingHttpHeaders }): string => requestIdOf(req.headers),
};

/** Echoes the request id in the X-Request-Id response header, on every answer including errors. */
export function echoRequestId(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      void reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
}
