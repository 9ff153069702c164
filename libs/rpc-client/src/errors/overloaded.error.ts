import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** The client already has `maxInFlight` calls pending; the call was not sent. */
export class OverloadedError extends RpcClientError {
  override readonly name = 'OverloadedError';
  readonly code = RpcClientErrorCode.OVERLOADED;

  constructor(
    queue: string,
    readonly maxInFlight: number,
  ) {
    super(`${maxInFlight} calls to ${queue} already pending`, queue);
  }
}
