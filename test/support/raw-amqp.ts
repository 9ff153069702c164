/**
 * Raw broker access for tests, sharing no code with the apps.
 *
 * `publishRaw` speaks AMQP 0-9-1 over a bare socket so that it can send what
 * client libraries cannot: `correlation_id` / `reply_to` as arbitrary bytes
 * (amqplib takes them as strings and encodes UTF-8). It publishes in confirm
 * mode, so when it resolves the broker has the messages.
 *
 * `messagesLeft` is the broker's own count of what a queue still holds once
 * its consumers are gone, unacked deliveries included.
 */
import { connect as netConnect, Socket } from 'node:net';
import { AMQP_URL, openBroker } from './broker';

export interface RawMessage {
  body: Buffer;
  correlationId?: Buffer;
  replyTo?: Buffer;
}

const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 0xce;

const shortstr = (value: Buffer | string): Buffer => {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  if (bytes.length > 255) throw new RangeError(`shortstr of ${bytes.length} bytes`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
};
const longstr = (value: Buffer | string): Buffer => {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const size = Buffer.alloc(4);
  size.writeUInt32BE(bytes.length);
  return Buffer.concat([size, bytes]);
};
const u16 = (value: number): Buffer => Buffer.from([value >> 8, value & 0xff]);
const u32 = (value: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
};

function frame(type: number, channel: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u16(channel), u32(payload.length), payload, Buffer.from([FRAME_END])]);
}

const method = (channel: number, classId: number, methodId: number, ...args: Buffer[]): Buffer =>
  frame(FRAME_METHOD, channel, Buffer.concat([u16(classId), u16(methodId), ...args]));

/** Reads method frames off the socket; each `next(class, method)` waits for that method (bounded). */
class MethodReader {
  private buffered = Buffer.alloc(0);
  private readonly frames: { classId: number; methodId: number; args: Buffer }[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 7) {
        const size = this.buffered.readUInt32BE(3);
        if (this.buffered.length < size + 8) break;
        const payload = this.buffered.subarray(7, 7 + size);
        if (this.buffered[0] === FRAME_METHOD) {
          this.frames.push({ classId: payload.readUInt16BE(0), methodId: payload.readUInt16BE(2), args: payload });
        }
        this.buffered = this.buffered.subarray(size + 8);
      }
      this.wake?.();
    });
    const fail = (error: Error): void => {
      this.failure = error;
      this.wake?.();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('raw amqp: socket closed')));
  }

  async next(classId: number, methodId: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.frames.shift();
      if (got !== undefined) {
        // connection.close or channel.close from the broker: the reply code says why.
        const closing = (got.classId === 10 && got.methodId === 50) || (got.classId === 20 && got.methodId === 40);
        if (closing) {
          throw new Error(`raw amqp: broker closed with ${got.args.readUInt16BE(4)}`);
        }
        if (got.classId === classId && got.methodId === methodId) return got.args;
        continue;
      }
      if (this.failure) throw this.failure;
      if (Date.now() > deadline) throw new Error(`raw amqp: no ${classId}.${methodId} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** Content header: basic class, body size, then correlation_id (flag bit 10) and reply_to (bit 9) as raw bytes. */
function contentHeader(message: RawMessage): Buffer {
  let flags = 0;
  const properties: Buffer[] = [];
  if (message.correlationId !== undefined) {
    flags |= 1 << 10;
    properties.push(shortstr(message.correlationId));
  }
  if (message.replyTo !== undefined) {
    flags |= 1 << 9;
    properties.push(shortstr(message.replyTo));
  }
  const bodySize = Buffer.alloc(8);
  bodySize.writeBigUInt64BE(BigInt(message.body.length));
  return frame(FRAME_HEADER, 1, Buffer.concat([u16(60), u16(0), bodySize, u16(flags), ...properties]));
}

/** Publishes `messages` to `queue` through the default exchange; resolves once the broker has confirmed them all. */
export async function publishRaw(queue: string, messages: RawMessage[]): Promise<void> {
  const url = new URL(AMQP_URL);
  const socket = netConnect({ host: url.hostname, port: Number(url.port || 5672) });
  const reader = new MethodReader(socket);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    await reader.next(10, 10); // connection.start
    const credentials = `\0${decodeURIComponent(url.username)}\0${decodeURIComponent(url.password)}`;
    socket.write(method(0, 10, 11, u32(0), shortstr('PLAIN'), longstr(credentials), shortstr('en_US')));
    const tune = await reader.next(10, 30);
    // One body frame per message: keep bodies within the broker's frame-max (channel-max, frame-max, heartbeat).
    const frameMax = tune.readUInt32BE(6);
    if (messages.some((message) => message.body.length > frameMax - 8))
      throw new RangeError('raw amqp: body too large');
    // tune-ok: the broker's channel-max and frame-max, heartbeat off.
    socket.write(method(0, 10, 31, tune.subarray(4, 10), u16(0)));
    const vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/';
    socket.write(method(0, 10, 40, shortstr(vhost), shortstr(''), Buffer.from([0])));
    await reader.next(10, 41); // open-ok
    socket.write(method(1, 20, 10, shortstr('')));
    await reader.next(20, 11); // channel.open-ok
    socket.write(method(1, 85, 10, Buffer.from([0])));
    await reader.next(85, 11); // confirm.select-ok
    for (const message of messages) {
      socket.write(method(1, 60, 40, u16(0), shortstr(''), shortstr(queue), Buffer.from([0])));
      socket.write(contentHeader(message));
      if (message.body.length > 0) socket.write(frame(FRAME_BODY, 1, message.body));
    }
    // One basic.ack per message or one with `multiple`: wait until the last tag is covered.
    for (let confirmed = 0; confirmed < messages.length;) {
      const ack = await reader.next(60, 80);
      const tag = Number(ack.readBigUInt64BE(4));
      confirmed = ack[12] & 1 ? tag : Math.max(confirmed, tag);
    }
    socket.write(method(0, 10, 50, u16(200), shortstr('bye'), u16(0), u16(0)));
    await reader.next(10, 51); // close-ok
  } finally {
    socket.destroy();
  }
}

/**
 * Messages `queue` holds, ready or unacked, once its consumers have gone
 * (call it after closing them: their unacked deliveries return to the queue).
 * A confirmed marker is published first so the count is taken after the broker
 * has processed those consumers going away (a quorum queue does that in its log);
 * the marker is not counted, and the queue is purged afterwards.
 */
export async function messagesLeft(queue: string): Promise<number> {
  const connection = await openBroker();
  try {
    const channel = await connection.createConfirmChannel();
    await new Promise<void>((resolve, reject) =>
      channel.sendToQueue(queue, Buffer.from('marker'), {}, (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error('marker not confirmed')) : resolve(),
      ),
    );
    const { messageCount } = await channel.checkQueue(queue);
    await channel.purgeQueue(queue);
    return messageCount - 1;
  } finally {
    await connection.close();
  }
}
