import { RpcErrorCode } from '@app/contracts';
import { RemoteRpcError, RpcClientError, RpcClientErrorCode } from '@app/rpc-client';
import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { RETRY_AFTER_SECONDS } from '../gateway.constants';

/**
 * Codes the RpcClient is gaining (see notes/INTERFACES.md); compared as
 * strings so this compiles before and after RpcClientErrorCode lists them.
 */
const CANCELLED = 'CANCELLED';
const INVALID_OPTIONS = 'INVALID_OPTIONS';

/**
 * HTTP status for each way an RPC call fails (docs/http-api.md, "RPC failures");
 * undefined for CANCELLED: the caller has gone, there is nobody to answer.
 */
export function httpStatusOf(error: RpcClientError): HttpStatus | undefined {
  const code: string = error.code;
  switch (code) {
    case CANCELLED:
      return undefined;
    case RpcClientErrorCode.TIMEOUT:
      return HttpStatus.GATEWAY_TIMEOUT;
    case RpcClientErrorCode.REMOTE:
      return (error as RemoteRpcError).remoteCode === RpcErrorCode.INTERNAL
        ? HttpStatus.BAD_GATEWAY
        : HttpStatus.BAD_REQUEST;
    case INVALID_OPTIONS:
      // The gateway passed options the client refuses: a bug here, not the caller's fault.
      return HttpStatus.INTERNAL_SERVER_ERROR;
    default:
      // NO_WORKER, BROKER_UNAVAILABLE, CONNECTION_LOST, OVERLOADED, CLIENT_CLOSED, FLOW_CONTROL
      return HttpStatus.SERVICE_UNAVAILABLE;
  }
}

/** Turns a failed RPC call into Nest's error body shape, with `Retry-After` on 503. */
@Catch(RpcClientError)
export class RpcClientErrorFilter implements ExceptionFilter<RpcClientError> {
  catch(error: RpcClientError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const statusCode = httpStatusOf(error);
    if (statusCode === undefined) {
      // Cancelled because the connection closed: nothing to write (and no error to log); make sure it is gone.
      reply.raw.destroy();
      return;
    }
    if (statusCode === HttpStatus.SERVICE_UNAVAILABLE) reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
    const message = error instanceof RemoteRpcError ? error.remoteMessage : error.message;
    void reply.status(statusCode).send({ statusCode, error: STATUS_CODES[statusCode], message, code: error.code });
  }
}
