import type { Context } from '@opentelemetry/api';

/** Options of RpcClientModule.forRoot / forRootAsync and of `new RpcClient()`. */
export interface RpcClientOptions {
  /**
   * Broker URL; amqps:// works too. Ignored when `urls` is given.
   * @default 'amqp://guest:guest@localhost:5672'
   */
  url?: string;
  /**
   * The nodes of a cluster, each a full URL. One connection at a time; the
   * order is shuffled per instance and a lost link is retried on the next node first.
   * @default [url]
   */
  urls?: readonly string[];
  /**
   * AMQP heartbeat timeout asked of the broker, in seconds (amqplib 2.x: 0 turns it off).
   * @default 5
   */
  heartbeatS?: number;
  /**
   * Deadline of one connection attempt (TCP + TLS + AMQP handshake), and of the set-up after it, in ms.
   * @default 3000
   */
  connectTimeoutMs?: number;
  /**
   * A consumer check that gets no answer within this many ms means the link is
   * silent (half-open, frozen broker): it is dropped and re-made.
   * @default 3000
   */
  consumerCheckTimeoutMs?: number;
  /**
   * Send a call again on the next link when its link is lost before the reply
   * (for idempotent requests; duplicates' replies are discarded as late ones).
   * @default false
   */
  resendOnLinkLoss?: boolean;
  /**
   * Requests are published with publisher confirms. One left unconfirmed this many ms, while nothing
   * else came back on the connection either, means the link is silent, and it is dropped (counted in
   * silentLinkDrops). A nack fails its call with REJECTED, and the link stays; nacks that persist on one
   * channel move publishing to a fresh channel (RabbitMQ 3.10 nacks every publish of a channel opened
   * while a quorum queue's leader was being lost; counted in channelsReplaced). 0: no confirms.
   * @default 3000
   */
  confirmTimeoutMs?: number;
  /**
   * With several nodes (`urls`): after a lost link, for up to this many ms (while the client fails over
   * to another node), new calls wait for the next link instead of failing BROKER_UNAVAILABLE at once; they
   * fail 503 when the window ends, when every node has refused once, or at their deadline. Never before
   * the first link, nor with one node. 0: new calls fail at once.
   * @default 0
   */
  failoverHoldMs?: number;
  /**
   * How often one call may be sent again after link losses.
   * @default 2
   */
  maxResends?: number;
  /** CA, client certificate and key for amqps:// nodes. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /**
   * `external`: log in by the client certificate (RabbitMQ's EXTERNAL mechanism).
   * @default 'plain'
   */
  auth?: 'plain' | 'external';
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
   * `direct` is direct reply-to (`amq.rabbitmq.reply-to`): as fast, and it needs no queue declared, so a
   * failover goes on while another node of the cluster is frozen (README, Cluster).
   * @default 'direct'
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
  /** Aborting it settles the call at once with CallCancelledError and frees its slot. */
  signal?: AbortSignal;
  /** The parent of the call's span (e.g. the HTTP request's); by default the active context's span. */
  traceContext?: Context;
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
  /** Links this client declared dead because its consumer check or a publisher confirm did not come in time. */
  silentLinkDrops: number;
  /** Calls the broker refused (basic.nack): failed with REJECTED. */
  rejected: number;
  /** Fresh request channels opened because one kept nacking while the link was up. */
  channelsReplaced: number;
  /** Requests sent again on a new link after their link was lost. */
  resends: number;
  /** Calls cancelled by their caller's AbortSignal. */
  cancelled: number;
}

/** What health and metrics show of a client. */
export interface RpcClientHealth {
  status: 'up' | 'down';
  /** The broker link's state (see BrokerLinkState), or 'closing'. */
  state: string;
  /** The node connected to (URL without credentials). */
  node?: string;
  /** Why it is down, or why calls are refused while up (flow control). */
  reason?: string;
}
