import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/**
 * The broker refused the request (basic.nack), e.g. a request queue at its `x-max-length` with
 * `x-overflow: reject-publish`: it never reached the queue, and it is not sent again.
 */
export class RejectedError extends RpcClientError {
  override readonly name = 'RejectedError';
  readonly code = RpcClientErrorCode.REJECTED;

  constructor(
    queue: string,
    readonly correlationId: string,
  ) {
    super(`the broker refused the request for ${queue} (correlation id ${correlationId})`, queue);
  }
}
