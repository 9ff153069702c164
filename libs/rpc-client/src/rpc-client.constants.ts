import { DEFAULT_RPC_QUEUE } from '@app/contracts';
import { RpcClientOptions } from './rpc-client.interfaces';

export const RPC_CLIENT_DEFAULTS: Required<RpcClientOptions> = {
  url: 'amqp://guest:guest@localhost:5672',
  queue: DEFAULT_RPC_QUEUE,
  timeoutMs: 5000,
  maxInFlight: 5000,
  replyMode: 'queue',
  consumerCheckIntervalMs: 1000,
  reconnectDelayMs: [100, 5000],
  connectionName: 'fib-rpc client',
};
