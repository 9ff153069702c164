import { DEFAULT_RPC_QUEUE } from '@app/contracts';
import { RpcClientOptions } from './rpc-client.interfaces';

export const RPC_CLIENT_DEFAULTS: Required<Omit<RpcClientOptions, 'urls' | 'tls'>> = {
  url: 'amqp://guest:guest@localhost:5672',
  heartbeatS: 5,
  connectTimeoutMs: 3000,
  consumerCheckTimeoutMs: 3000,
  confirmTimeoutMs: 3000,
  failoverHoldMs: 0,
  resendOnLinkLoss: false,
  maxResends: 2,
  auth: 'plain',
  queue: DEFAULT_RPC_QUEUE,
  timeoutMs: 5000,
  maxInFlight: 5000,
  replyMode: 'direct',
  consumerCheckIntervalMs: 1000,
  reconnectDelayMs: [100, 5000],
  connectionName: 'fib-rpc client',
};

/** Largest per-call deadline: what a Node timer can hold. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
