import type { FastifyHttpOptions } from 'fastify';
import type { Server } from 'node:http';
import { answerClientError } from './client-error.handler';
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_REQUEST_HEAD_BYTES,
  MAX_URL_BYTES,
  REQUEST_TIMEOUT_MS,
  SOCKET_IDLE_GRACE_MS,
  TIMEOUT_CHECK_INTERVAL_MS,
} from './http-server.constants';
import { answerFrameworkError } from './request-head.guard';

/** Largest delay Node's timers take (more is a warning and 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The gateway's Fastify server options: limits and timeouts (see http-server.constants.ts), and who answers what Fastify's routes never see. */
export function httpServerOptions(rpcTimeoutMs: number): FastifyHttpOptions<Server> {
  return {
    connectionTimeout: Math.min(rpcTimeoutMs + SOCKET_IDLE_GRACE_MS, MAX_TIMER_MS),
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      maxHeaderSize: MAX_REQUEST_HEAD_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      requireHostHeader: false,
    },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    // Requests arriving while closing get checkRequestHead's 503 (request id, Retry-After) instead.
    return503OnClosing: false,
    // A path segment up to the URL limit reaches its route, so a long n gets the pipe's 400.
    routerOptions: { maxParamLength: MAX_URL_BYTES, ignoreTrailingSlash: true },
  };
}
