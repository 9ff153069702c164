import { describeError, destroyConnection, WRITE_PROBE_ROUTING_KEY } from '@app/runtime';
import { ChannelModel, ConfirmChannel } from 'amqplib';

/** How RabbitMQ 3.10 closes a connection that published to a direct reply-to address it cannot resolve. */
const INTERNAL_ERROR = 541;

/** The broker closed the connection over a reply it could not route (541 INTERNAL_ERROR). */
export function isRefusedAddressClose(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === INTERNAL_ERROR;
}

/** An AMQP reply code (e.g. 403): the broker refused; socket errors and timeouts carry string codes. */
export function isBrokerRefusal(error: unknown): boolean {
  return typeof (error as { code?: unknown } | undefined)?.code === 'number';
}

export interface ReplyConnectionEvents {
  /** The connection closed (after it was handed over), with the broker's reason if it gave one. */
  onClose(error: unknown): void;
  /** The broker blocks (reason) or unblocks (undefined) its publishing: a resource alarm. */
  onBlocked(reason: string | undefined): void;
}

/**
 * Opens the reply connection and its confirm channel, and checks with one
 * confirmed publish that the user may write to the default exchange. The
 * events are wired only once it is handed over; `abandoned()` true at any
 * step (the link went meanwhile) closes what was opened and rejects.
 */
export async function openReplyConnection(
  connect: () => Promise<ChannelModel>,
  abandoned: () => boolean,
  events: ReplyConnectionEvents,
): Promise<{ connection: ChannelModel; channel: ConfirmChannel }> {
  const connection = await connect();
  // Its 'close' carries the cause; an 'error' without a listener would crash the process.
  connection.on('error', () => undefined);
  let channel: ConfirmChannel;
  try {
    if (abandoned()) throw new Error('reply path closed');
    channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    await confirmWritable(channel);
    if (abandoned()) throw new Error('reply path closed');
  } catch (error) {
    destroyConnection(connection, 'reply set-up abandoned');
    throw error;
  }
  connection.on('close', (error: unknown) => events.onClose(error));
  connection.on('blocked', (reason: unknown) =>
    events.onBlocked(typeof reason === 'string' && reason !== '' ? reason : 'blocked by the broker'),
  );
  connection.on('unblocked', () => events.onBlocked(undefined));
  // A channel closed alone (e.g. write permission revoked) leaves nothing to publish on: end the connection.
  channel.on('close', () => setImmediate(() => destroyConnection(connection, 'reply channel closed')));
  return { connection, channel };
}

/**
 * Publishes to a routing key no queue has, and waits for the confirm: a user
 * without write on the default exchange is refused (403) here, at set-up,
 * not at the first reply.
 */
function confirmWritable(channel: ConfirmChannel): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    channel.once('error', reject);
    channel.publish('', WRITE_PROBE_ROUTING_KEY, Buffer.alloc(0), {}, (error: unknown) => {
      channel.off('error', reject);
      if (error == null) resolve();
      else reject(error instanceof Error ? error : new Error(describeError(error)));
    });
  });
}
