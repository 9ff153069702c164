/** The `@MessagePattern` that every request on the RPC queue is routed to. */
export const FIB_PATTERN = 'fib';
