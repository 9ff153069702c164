/** Options of RpcClientModule.forRoot / forRootAsync and of `new RpcClient()`. */
export interface RpcClientOptions {
  /**
   * Broker URL; amqps:// works too.
   * @default 'amqp://guest:guest@localhost:5672'
   */
  url?: string;
  /**
   * Request queue the calls are published to (default exchange, this routing key).
   * @default 'rpc_queue'
   */
  queue?: string;
  /**
   * Per-call deadline in ms; also sent as the request's `expiration`.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Pending calls allowed at once; one more fails at once with OverloadedError.
   * @default 5000
   */
  maxInFlight?: number;
  /**
   * Reply path: `queue` is the tutorial's exclusive server-named callback queue,
   * `direct` is direct reply-to (`amq.rabbitmq.reply-to`).
   * @default 'queue'
   */
  replyMode?: 'queue' | 'direct';
  /**
   * How often the request queue's consumer count is checked, in ms; calls fail
   * fast while it is zero.
   * @default 1000
   */
  consumerCheckIntervalMs?: number;
  /**
   * First and largest delay between reconnect attempts, in ms (doubling, with jitter).
   * @default [100, 5000]
   */
  reconnectDelayMs?: readonly [min: number, max: number];
  /**
   * Name shown for the connection in the broker's management UI.
   * @default 'fib-rpc client'
   */
  connectionName?: string;
}

/** Per-call options. */
export interface RpcCallOptions {
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
  /**
   * The request's `message_id` property, e.g. the HTTP request id it serves.
   * A basic property costs far less to encode than an entry of the headers table.
   */
  messageId?: string;
  /** AMQP headers table to send with the request (e.g. `traceparent`). */
  headers?: Record<string, string>;
}

/** A call in flight, as `RpcClient.send` returns it. */
export interface RpcCall {
  /** The request's correlation id; undefined if the call was refused before sending. */
  correlationId: string | undefined;
  /** The reply body as text, or an RpcClientError. */
  reply: Promise<string>;
}

/** Counters a client keeps since it was created; read them for metrics. */
export interface RpcClientStats {
  /** Replies whose correlation id matched no pending call: late, duplicate or foreign. */
  unknownReplies: number;
  /** Successful reconnects after a lost connection. */
  reconnects: number;
}
