import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** No reply came within the call's deadline. */
export class RpcTimeoutError extends RpcClientError {
  override readonly name = 'RpcTimeoutError';
  readonly code = RpcClientErrorCode.TIMEOUT;

  constructor(
    queue: string,
    readonly correlationId: string,
    readonly timeoutMs: number,
  ) {
    super(`no reply from ${queue} within ${timeoutMs} ms (correlation id ${correlationId})`, queue);
  }
}
