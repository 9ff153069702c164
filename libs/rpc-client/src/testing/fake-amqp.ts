import { EventEmitter } from 'node:events';
import type { ConsumeMessage, Options } from 'amqplib';
import { WRITE_PROBE_ROUTING_KEY } from '@app/runtime';

/**
 * A broker double for the RpcClient's unit specs (not a spec itself, not exported by index.ts):
 * each spec file routes `connectAmqp` here with its own jest.mock, which jest hoists per file.
 */

/** A channel double: records publishes, lets a test deliver replies and returns, and fail. */
export class FakeChannel extends EventEmitter {
  published: { routingKey: string; body: Buffer; options: Options.Publish }[] = [];
  consumerCount = fakeBroker.initialConsumers;
  publishThrows = false;
  /** What publish() reports: false is amqplib's "buffered past the high-water mark". */
  publishReturns = true;
  /** While true, consumer checks never answer (a silent link). */
  checkHangs = false;
  /** A confirm channel (publisher confirms on): publish takes a callback. */
  confirming = false;
  /** While true, the broker confirms every publish (asynchronously); else they wait in `unconfirmed`. */
  autoConfirm = true;
  readonly unconfirmed: ((error: Error | null) => void)[] = [];
  /** Consumer checks answered. */
  checks = 0;
  /** The set-up's write-permission probe, kept apart from the requests. */
  probes = 0;
  private onReply: ((message: ConsumeMessage | null) => void) | undefined;

  constructor() {
    super();
    // as amqplib's Channel does, from its constructor (so before any listener of the client's): a closing
    // channel calls back every unconfirmed publish with an error that is no nack
    this.on('close', () => {
      for (const confirmed of this.unconfirmed.splice(0)) confirmed(new Error('channel closed'));
    });
  }

  assertQueue(): Promise<{ queue: string }> {
    return Promise.resolve({ queue: 'amq.gen-fake' });
  }

  consume(_queue: string, onMessage: (message: ConsumeMessage | null) => void): Promise<{ consumerTag: string }> {
    this.onReply = onMessage;
    return Promise.resolve({ consumerTag: 'ctag' });
  }

  checkQueue(): Promise<{ consumerCount: number }> {
    if (this.checkHangs) return new Promise(() => undefined);
    this.checks++;
    return Promise.resolve({ consumerCount: this.consumerCount });
  }

  prefetch(): Promise<void> {
    return Promise.resolve();
  }

  publish(
    _exchange: string,
    routingKey: string,
    body: Buffer,
    options: Options.Publish,
    confirmed?: (error: Error | null) => void,
  ): boolean {
    if (routingKey === WRITE_PROBE_ROUTING_KEY) {
      this.probes++;
      return true;
    }
    if (this.publishThrows) throw new Error('Channel closed');
    this.published.push({ routingKey, body, options });
    if (confirmed !== undefined) {
      if (this.autoConfirm) void Promise.resolve().then(() => confirmed(null));
      else this.unconfirmed.push(confirmed);
    }
    return this.publishReturns;
  }

  /** The broker's basic.nack of every publish not yet confirmed. */
  nackAll(): void {
    for (const confirmed of this.unconfirmed.splice(0)) confirmed(new Error('message nacked'));
  }

  reply(correlationId: string | undefined, body: string, type?: string): void {
    this.onReply?.({ content: Buffer.from(body), properties: { correlationId, type } } as unknown as ConsumeMessage);
  }

  cancelReplyConsumer(): void {
    this.onReply?.(null);
  }

  returnMessage(correlationId: string): void {
    const returned = { content: Buffer.alloc(0), properties: { correlationId } };
    this.emit('return', returned);
  }
}

export class FakeConnection extends EventEmitter {
  readonly channels: FakeChannel[] = [];
  /** Set on every channel this connection opens from now on. */
  checksHang = false;
  /** Set on every confirm channel this connection opens from now on. */
  autoConfirm = true;

  createChannel(): Promise<FakeChannel> {
    const channel = new FakeChannel();
    channel.checkHangs = this.checksHang;
    this.channels.push(channel);
    return Promise.resolve(channel);
  }

  async createConfirmChannel(): Promise<FakeChannel> {
    const channel = await this.createChannel();
    channel.confirming = true;
    channel.autoConfirm = this.autoConfirm;
    return channel;
  }

  close(): Promise<void> {
    this.emit('close');
    return Promise.resolve();
  }
}

/** The broker as the specs steer it: the connections made so far, and what the next ones do. */
export const fakeBroker = {
  /** Every connection opened, oldest first (a spec empties it before it opens a client). */
  connections: [] as FakeConnection[],
  /** While true, every connection attempt is refused. */
  failConnects: false,
  /** The consumer count every new fake channel reports at first. */
  initialConsumers: 1,

  /** Stands in for `connectAmqp`. */
  connect(): Promise<FakeConnection> {
    if (this.failConnects) return Promise.reject(new Error('connect ECONNREFUSED'));
    const connection = new FakeConnection();
    this.connections.push(connection);
    return Promise.resolve(connection);
  },
};
