import { REQUEST_ID_HEADER } from '@app/observability';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RETRY_AFTER_SECONDS } from '../gateway.constants';
import { httpErrorBody } from './http-error-body';
import { MAX_URL_BYTES } from './http-server.constants';

const URL_TOO_LONG = `the URL is longer than ${MAX_URL_BYTES} bytes`;

/**
 * Fastify's `frameworkErrors`: a URL its router refuses (malformed
 * percent-encoding, a path segment over `maxParamLength`) is a 400 in Nest's
 * shape with the request id, not Fastify's own body echoing the URL.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let statusCode = 400;
  let message: string;
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      message = 'the URL has malformed percent-encoding';
      break;
    case 'FST_ERR_MAX_PARAM_LENGTH':
      message = URL_TOO_LONG;
      break;
    default:
      statusCode = 500;
      message = 'the request could not be routed';
  }
  void reply.header(REQUEST_ID_HEADER, request.id).code(statusCode).send(httpErrorBody(statusCode, message));
}

/**
 * Refuses, before any handler runs:
 * - any request once the server is closing (503 with Retry-After and
 *   `Connection: close`, in place of Fastify's own 503 that has neither a
 *   request id nor Retry-After: `return503OnClosing` is off);
 * - a URL longer than MAX_URL_BYTES (a long `n` is a 400 whatever its length,
 *   at the cost of one comparison);
 * - an HTTP/1.1 request without Host (RFC 9112 §3.2; Node's own check answers
 *   a bare 400 without a body or request id, so it is turned off in favour of this one).
 */
export function checkRequestHead(fastify: FastifyInstance): void {
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      void reply
        .header(REQUEST_ID_HEADER, request.id)
        .header('Retry-After', String(RETRY_AFTER_SECONDS))
        .header('Connection', 'close')
        .code(503)
        .send(httpErrorBody(503, 'the gateway is shutting down'));
      return;
    }
    const { url, httpVersion, headers } = request.raw;
    const problem =
      url !== undefined && url.length > MAX_URL_BYTES
        ? URL_TOO_LONG
        : httpVersion === '1.1' && headers.host === undefined
          ? 'the Host header is missing (HTTP/1.1 requires it)'
          : undefined;
    if (problem === undefined) {
      done();
      return;
    }
    void reply.header(REQUEST_ID_HEADER, request.id).code(400).send(httpErrorBody(400, problem));
  });
}
