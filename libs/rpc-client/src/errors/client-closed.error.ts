import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** The client is closing or closed. */
export class ClientClosedError extends RpcClientError {
  override readonly name = 'ClientClosedError';
  readonly code = RpcClientErrorCode.CLIENT_CLOSED;

  constructor(queue: string) {
    super(`RPC client for ${queue} is closed`, queue);
  }
}
