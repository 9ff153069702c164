import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/**
 * The broker has blocked publishing (a resource alarm) or the socket is not
 * draining: the call was refused rather than buffered to be sent late.
 */
export class FlowControlError extends RpcClientError {
  override readonly name = 'FlowControlError';
  readonly code = RpcClientErrorCode.FLOW_CONTROL;

  constructor(
    queue: string,
    /** The broker's reason, or 'socket not draining'. */
    readonly reason: string,
  ) {
    super(`publishing to ${queue} is held back (${reason}); request not sent`, queue);
  }
}
