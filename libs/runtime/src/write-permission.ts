import { Channel } from 'amqplib';

/** Routing key of the set-up's write probe; no queue has this name, so the broker drops the message. */
export const WRITE_PROBE_ROUTING_KEY = 'fib-rpc.write-permission-check';

/**
 * Publishes an empty message through the default exchange during set-up, so
 * a user without write permission there is refused now (the broker closes the
 * channel with 403) instead of at the first call or reply. The refusal
 * surfaces at the channel's next round trip, which the caller makes next.
 */
export function probeWritePermission(channel: Channel): void {
  channel.publish('', WRITE_PROBE_ROUTING_KEY, Buffer.alloc(0));
}
