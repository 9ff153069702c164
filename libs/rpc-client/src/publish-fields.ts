import type { Channel } from 'amqplib';

/**
 * One request's `basic.publish` method fields and properties, in exactly the shape amqplib's own
 * `Args.publish` makes of publish options (one object serves as both). `channel.publish` copies
 * the options into that shape per message and wraps the headers in `Object.create(headers)`,
 * whose inherited keys then take V8's slow `for…in` when the table is encoded: together about
 * half of a publish's cost in the gateway's profile (docs/benchmarks-gateway.md). Built directly,
 * with the headers as a plain object, it is handed to the channel's `sendMessage` (what
 * `publish` calls next) — same bytes on the wire. publish-fields.spec.ts checks the shape
 * against `Args.publish` of the installed amqplib.
 */
export class PublishFields {
  // method fields
  readonly exchange = '';
  readonly mandatory = true;
  readonly immediate = false;
  readonly ticket = undefined;
  // properties
  readonly contentEncoding = undefined;
  readonly deliveryMode = undefined;
  readonly priority = undefined;
  readonly timestamp = undefined;
  readonly type = undefined;
  readonly userId = undefined;
  readonly appId = undefined;
  readonly clusterId = undefined;

  constructor(
    readonly routingKey: string,
    readonly contentType: string,
    readonly replyTo: string,
    readonly correlationId: string,
    /** amqplib sends it as a string (`Args.publish` converts a number). */
    readonly expiration: string,
    readonly messageId: string | undefined,
    readonly headers: Record<string, unknown>,
  ) {}
}

/** The part of amqplib's Channel that `publish` delegates to (not in its typings). */
interface SendMessage {
  sendMessage(fields: PublishFields, properties: PublishFields, content: Buffer): boolean;
}
/** The part of amqplib's ConfirmChannel that `publish` registers a confirm callback with. */
interface PushConfirmCallback {
  pushConfirmCallback(confirmed: (error: unknown) => void): void;
}

/** True when this amqplib's channel has the two internals `sendFields` uses (else it uses `publish`). */
export function canSendFields(channel: Channel): boolean {
  const raw = channel as unknown as Partial<SendMessage & PushConfirmCallback>;
  return typeof raw.sendMessage === 'function' && typeof raw.pushConfirmCallback === 'function';
}

/**
 * What `channel.publish` (with `confirmed`: `ConfirmChannel.publish`) does after copying its
 * options: send the frames, then queue the confirm callback. Throws as `publish` does on a closed
 * channel (amqplib swaps `sendMessage` for a throwing one). False: buffered past the high-water mark.
 */
export function sendFields(
  channel: Channel,
  fields: PublishFields,
  content: Buffer,
  confirmed: ((error: unknown) => void) | undefined,
): boolean {
  const written = (channel as unknown as SendMessage).sendMessage(fields, fields, content);
  if (confirmed !== undefined) (channel as unknown as PushConfirmCallback).pushConfirmCallback(confirmed);
  return written;
}
