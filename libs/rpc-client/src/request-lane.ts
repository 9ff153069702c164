import { describeError } from '@app/runtime';
import { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { canSendFields, PublishFields, sendFields } from './publish-fields';

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
  /** Publishes go straight to amqplib's sendMessage (see PublishFields). */
  direct: boolean;
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
    direct: canSendFields(channel),
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
  fields: PublishFields,
  body: Buffer,
  confirmed: (error: unknown) => void,
): boolean {
  const confirms = lane.confirms;
  if (confirms !== undefined && lane.unconfirmed++ === 0) lane.unconfirmedSince = Date.now();
  if (lane.direct) return sendFields(lane.channel, fields, body, confirms === undefined ? undefined : confirmed);
  // An amqplib without the internals: its public publish, which copies the fields as options.
  if (confirms === undefined) return lane.channel.publish(fields.exchange, fields.routingKey, body, fields);
  return confirms.publish(fields.exchange, fields.routingKey, body, fields, confirmed);
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
