import { RpcErrorCode } from '@app/contracts';
import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** The worker answered with an error reply; `remoteCode` is its code. */
export class RemoteRpcError extends RpcClientError {
  override readonly name = 'RemoteRpcError';
  readonly code = RpcClientErrorCode.REMOTE;

  constructor(
    queue: string,
    readonly correlationId: string,
    readonly remoteCode: RpcErrorCode,
    readonly remoteMessage: string,
  ) {
    super(`${queue} answered ${remoteCode}: ${remoteMessage}`, queue);
  }
}
