/** Options of the RpcQueueServer transport. */
export interface RpcQueueServerOptions {
  /** Broker URL. */
  url: string;
  /** Queue to consume, declared exactly as the tutorial declares it. */
  queue: string;
  /** Unacked requests this worker holds at once (`basic.qos`). */
  prefetch: number;
  /** The `@MessagePattern` every request on the queue is routed to. */
  pattern: string;
  /**
   * First and largest delay between reconnect attempts, in ms.
   * @default [100, 5000]
   */
  reconnectDelayMs?: readonly [min: number, max: number];
  /**
   * Name shown for the connection in the broker's management UI.
   * @default 'fib-rpc worker'
   */
  connectionName?: string;
}

/** Counters a server keeps since it started. */
export interface RpcQueueServerStats {
  /** Requests answered with a success reply. */
  answered: number;
  /** Requests answered with an error reply, by code. */
  failed: Record<string, number>;
  /** Requests acked without a reply (no `reply_to`). */
  dropped: number;
}
