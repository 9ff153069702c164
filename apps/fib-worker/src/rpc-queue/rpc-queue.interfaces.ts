import { RpcQueueType } from '@app/contracts';

/** Options of the RpcQueueServer transport. */
export interface RpcQueueServerOptions {
  /** The broker's nodes, each a full amqp:// or amqps:// URL; one connection at a time. */
  urls: readonly string[];
  /** Queue to consume: adopted as it exists, declared only when absent. */
  queue: string;
  /**
   * How the queue is declared when it does not exist yet.
   * @default 'quorum'
   */
  queueType?: RpcQueueType;
  /**
   * AMQP heartbeat timeout asked of the broker, in seconds (amqplib 2.x: 0 turns it off).
   * @default 5
   */
  heartbeatS?: number;
  /**
   * Deadline of one connection attempt (TCP + TLS + AMQP handshake) and of the set-up after it, in ms.
   * @default 3000
   */
  connectTimeoutMs?: number;
  /** CA, client certificate and key for amqps:// nodes. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /**
   * `external`: log in by the client certificate (RabbitMQ's EXTERNAL mechanism).
   * @default 'plain'
   */
  auth?: 'plain' | 'external';
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
  /** Requests acked without computing them: their caller's deadline (`x-deadline`) had passed. */
  expired: number;
  /**
   * Requests past their deadline by more than their whole budget (`expiration`): only clocks that disagree
   * explain it, so they were computed anyway.
   */
  clockSkewed: number;
  /** Replies that could not be published (a property that cannot be encoded); the request was acked all the same. */
  unpublishable: number;
  /**
   * Replies the broker would not take: a reply address it cannot resolve (RabbitMQ 3.10 closes the publishing
   * connection with 541), or a nack. The request was acked all the same, without a reply.
   */
  undeliverable: number;
  /** Times the broker closed the reply connection over a reply it would not take; the consuming link stayed up. */
  replyConnectionRefusals: number;
  /** Links dropped because the broker left the worker's periodic question unanswered (a silent link, a frozen node). */
  silentLinkDrops: number;
  /** Times the consuming link was lost (closed, reset, dropped), whatever the cause. */
  linkLosses: number;
}
