import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** The caller aborted the call (its AbortSignal fired); its pending slot is free again. */
export class CallCancelledError extends RpcClientError {
  override readonly name = 'CallCancelledError';
  readonly code = RpcClientErrorCode.CANCELLED;

  constructor(
    queue: string,
    readonly correlationId: string | undefined,
  ) {
    super(`call to ${queue} cancelled by the caller`, queue);
  }
}
