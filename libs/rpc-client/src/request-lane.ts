import { describeError } from '@app/runtime';
import { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';

/**
 * One channel requests go out on (with its direct reply-to consumer, in that mode) and its
 * publisher-confirm bookkeeping, as plain data that nackVerdict and isSilent read.
 */
export interface Lane {
  channel: Channel;
  confirms: ConfirmChannel | undefined;
  closed: boolean;
  /** Why the broker closed it, if it did. */
  error?: string;
  /** Nacks in a row without an ack between. */
  streak: number;
  acked: boolean;
  unconfirmed: number;
  /** When the oldest of its unconfirmed publishes went out (the count went from 0), epoch ms. */
  unconfirmedSince: number;
}

/** How long a replaced direct reply-to channel stays open for the replies of calls sent on it. */
export const LANE_RETIRE_MS = 60_000;

/** Opens a request channel (a confirm channel when confirms are on) and reports its close and drain. */
export async function openLane(
  connection: ChannelModel,
  settings: { confirmTimeoutMs: number },
  on: { closed(lane: Lane): void; drained(): void },
): Promise<Lane> {
  const confirms = settings.confirmTimeoutMs > 0 ? await connection.createConfirmChannel() : undefined;
  const channel = confirms ?? (await connection.createChannel());
  const lane: Lane = {
    channel,
    confirms,
    closed: false,
    streak: 0,
    acked: false,
    unconfirmed: 0,
    unconfirmedSince: 0,
  };
  // Before amqplib's own 'close' listener, which calls back every unconfirmed publish with an error.
  channel.prependListener('close', () => {
    lane.closed = true;
  });
  // Set-up failures are logged once by the broker link; a live channel's error is followed by its close.
  channel.on('error', (error: unknown) => {
    lane.error = describeError(error);
  });
  channel.on('close', () => on.closed(lane));
  channel.on('drain', () => on.drained());
  return lane;
}

/**
 * Publishes through the default exchange; with confirms, counts the publish unconfirmed and hands
 * the broker's confirm to `confirmed`. False: buffered past the socket's high-water mark.
 */
export function publishOnLane(
  lane: Lane,
  routingKey: string,
  body: Buffer,
  options: Options.Publish,
  confirmed: (error: unknown) => void,
): boolean {
  if (lane.confirms === undefined) return lane.channel.publish('', routingKey, body, options);
  if (lane.unconfirmed++ === 0) lane.unconfirmedSince = Date.now();
  return lane.confirms.publish('', routingKey, body, options, confirmed);
}

/** Counts the broker's confirm of one publish; a closing channel's error callbacks are no nacks ('closing'). */
export function countConfirm(lane: Lane, error: unknown): 'ack' | 'nack' | 'closing' {
  if (lane.closed) return 'closing';
  lane.unconfirmed--;
  if (lane.unconfirmed > 0) lane.unconfirmedSince = Date.now();
  if (error === null || error === undefined) {
    lane.streak = 0;
    lane.acked = true;
    return 'ack';
  }
  lane.streak++;
  return 'nack';
}
