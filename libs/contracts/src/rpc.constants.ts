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

/** Options `rpc_queue` is declared with: exactly the tutorial's, so either side may declare it first. */
export const RPC_QUEUE_OPTIONS = { durable: false } as const;
