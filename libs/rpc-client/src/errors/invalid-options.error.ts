import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** An option of the client or of one call is out of range; nothing was sent. */
export class InvalidOptionsError extends RpcClientError {
  override readonly name = 'InvalidOptionsError';
  readonly code = RpcClientErrorCode.INVALID_OPTIONS;

  constructor(
    queue: string,
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`invalid ${option} ${String(value)} for ${queue}: expected ${expected}`, queue);
  }
}
