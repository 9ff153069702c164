import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** The client has no broker connection right now (starting or reconnecting); the call was not sent. */
export class BrokerUnavailableError extends RpcClientError {
  override readonly name = 'BrokerUnavailableError';
  readonly code = RpcClientErrorCode.BROKER_UNAVAILABLE;

  constructor(queue: string) {
    super(`not connected to the broker; request for ${queue} not sent`, queue);
  }
}
