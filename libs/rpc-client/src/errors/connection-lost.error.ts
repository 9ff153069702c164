import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/**
 * The broker connection dropped while the call was waiting for its reply,
 * and the call could not be sent again on a new link before its deadline.
 */
export class ConnectionLostError extends RpcClientError {
  override readonly name = 'ConnectionLostError';
  readonly code = RpcClientErrorCode.CONNECTION_LOST;

  constructor(
    queue: string,
    readonly correlationId: string,
  ) {
    super(`broker connection lost while waiting for ${queue} (correlation id ${correlationId})`, queue);
  }
}
