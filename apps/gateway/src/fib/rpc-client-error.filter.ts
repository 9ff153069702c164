import { RpcErrorCode } from '@app/contracts';
import { RemoteRpcError, RpcClientError, RpcClientErrorCode } from '@app/rpc-client';
import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RETRY_AFTER_SECONDS } from '../gateway.constants';

const STATUS_TEXT: Partial<Record<HttpStatus, string>> = {
  [HttpStatus.BAD_REQUEST]: 'Bad Request',
  [HttpStatus.BAD_GATEWAY]: 'Bad Gateway',
  [HttpStatus.SERVICE_UNAVAILABLE]: 'Service Unavailable',
  [HttpStatus.GATEWAY_TIMEOUT]: 'Gateway Timeout',
};

/** HTTP status for each way an RPC call fails (see the contract's HTTP table). */
export function httpStatusOf(error: RpcClientError): HttpStatus {
  switch (error.code) {
    case RpcClientErrorCode.TIMEOUT:
      return HttpStatus.GATEWAY_TIMEOUT;
    case RpcClientErrorCode.REMOTE:
      return (error as RemoteRpcError).remoteCode === RpcErrorCode.INTERNAL
        ? HttpStatus.BAD_GATEWAY
        : HttpStatus.BAD_REQUEST;
    default:
      return HttpStatus.SERVICE_UNAVAILABLE;
  }
}

/** Turns a failed RPC call into Nest's error body shape, with `Retry-After` on 503. */
@Catch(RpcClientError)
export class RpcClientErrorFilter implements ExceptionFilter<RpcClientError> {
  catch(error: RpcClientError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const statusCode = httpStatusOf(error);
    if (statusCode === HttpStatus.SERVICE_UNAVAILABLE) reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
    const message = error instanceof RemoteRpcError ? error.remoteMessage : error.message;
    void reply.status(statusCode).send({ statusCode, error: STATUS_TEXT[statusCode], message, code: error.code });
  }
}
