/** The `@MessagePattern` that every request on the RPC queue is routed to. */
export const FIB_PATTERN = 'fib';

/** Token of the worker's settings (`FibWorkerSettings`). */
export const FIB_WORKER_SETTINGS = 'FIB_WORKER:SETTINGS';
