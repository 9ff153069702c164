/** The tutorial's request queue; `RPC_QUEUE` overrides it. */
export const DEFAULT_RPC_QUEUE = 'rpc_queue';

/** Largest n accepted by default; `FIB_MAX_N` overrides it. */
export const DEFAULT_FIB_MAX_N = 100_000;

/** Direct reply-to pseudo queue (no queue is declared for it). */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/** `content_type` of requests and success replies. */
export const TEXT_CONTENT_TYPE = 'text/plain';

/** `content_type` of error replies. */
export const ERROR_CONTENT_TYPE = 'application/json';

/** `type` property that marks an error reply. */
export const ERROR_REPLY_TYPE = 'error';

/**
 * Request header carrying the caller's absolute deadline (epoch ms). A worker
 * skips a request already past it: `expiration` only protects requests still
 * in the queue, not those already in a worker's prefetch window.
 */
export const DEADLINE_HEADER = 'x-deadline';

/** How the worker declares the request queue when it does not exist yet (`RPC_QUEUE_TYPE`). */
export type RpcQueueType = 'quorum' | 'classic' | 'transient';

/**
 * Declaration of each queue type: `quorum` is what RabbitMQ's tutorial
 * declares today, `transient` the 2010s tutorial's (refused by RabbitMQ 4.3's
 * defaults). An existing queue is adopted as it is, whatever its type.
 */
export const RPC_QUEUE_DECLARATIONS: Readonly<
  Record<RpcQueueType, { durable: boolean; arguments?: Record<string, string> }>
> = {
  quorum: { durable: true, arguments: { 'x-queue-type': 'quorum' } },
  classic: { durable: true },
  transient: { durable: false },
};
