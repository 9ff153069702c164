import { EventEmitter } from 'node:events';
import type { ConsumeMessage, Options } from 'amqplib';
import { RpcClient } from './rpc-client';
import { RpcClientError } from './errors';

/** A channel double: records publishes, lets a test deliver replies and returns, and fail. */
class FakeChannel extends EventEmitter {
  published: { routingKey: string; body: Buffer; options: Options.Publish }[] = [];
  consumerCount = 1;
  publishThrows = false;
  private onReply: ((message: ConsumeMessage | null) => void) | undefined;

  assertQueue(): Promise<{ queue: string }> {
    return Promise.resolve({ queue: 'amq.gen-fake' });
  }

  consume(_queue: string, onMessage: (message: ConsumeMessage | null) => void): Promise<{ consumerTag: string }> {
    this.onReply = onMessage;
    return Promise.resolve({ consumerTag: 'ctag' });
  }

  checkQueue(): Promise<{ consumerCount: number }> {
    return Promise.resolve({ consumerCount: this.consumerCount });
  }

  publish(_exchange: string, routingKey: string, body: Buffer, options: Options.Publish): boolean {
    if (this.publishThrows) throw new Error('Channel closed');
    this.published.push({ routingKey, body, options });
    return true;
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

class FakeConnection extends EventEmitter {
  readonly channels: FakeChannel[] = [];

  createChannel(): Promise<FakeChannel> {
    const channel = new FakeChannel();
    this.channels.push(channel);
    return Promise.resolve(channel);
  }

  close(): Promise<void> {
    this.emit('close');
    return Promise.resolve();
  }
}

const connections: FakeConnection[] = [];
// The broker link opens connections through this module; the fake stands in for the broker.
jest.mock('../../runtime/src/amqp-connection', () => ({
  ...jest.requireActual<object>('../../runtime/src/amqp-connection'),
  connectAmqp: () => {
    const connection = new FakeConnection();
    connections.push(connection);
    return Promise.resolve(connection);
  },
}));

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof RpcClientError ? error.code : `not an RpcClientError: ${String(error)}`),
  );
}

describe('RpcClient (faked channel)', () => {
  let client: RpcClient;
  let channel: FakeChannel;

  beforeEach(async () => {
    connections.length = 0;
    client = new RpcClient({ queue: 'q', timeoutMs: 1000, maxInFlight: 3, consumerCheckIntervalMs: 60_000 });
    await client.connect();
    channel = connections[0].channels[0];
  });

  afterEach(async () => {
    await client.close({ drain: false });
    jest.useRealTimers();
  });

  it('publishes to the queue with correlation id, reply_to, expiration, content type and mandatory', () => {
    void client.call(Buffer.from('30')).catch(() => undefined);
    expect(channel.published).toHaveLength(1);
    const [{ routingKey, body, options }] = channel.published;
    expect(routingKey).toBe('q');
    expect(body.toString()).toBe('30');
    expect(options).toMatchObject({
      replyTo: 'amq.gen-fake',
      expiration: 1000,
      contentType: 'text/plain',
      mandatory: true,
    });
    expect(typeof options.correlationId).toBe('string');
  });

  it('gives every call its own correlation id and routes each reply to its caller', async () => {
    const a = client.send(Buffer.from('1'));
    const b = client.send(Buffer.from('2'));
    expect(a.correlationId).not.toBe(b.correlationId);
    channel.reply(b.correlationId, 'two');
    channel.reply(a.correlationId, 'one');
    await expect(Promise.all([a.reply, b.reply])).resolves.toEqual(['one', 'two']);
    expect(client.pendingCount).toBe(0);
  });

  it('turns an error reply into REMOTE with the remote code', async () => {
    const call = client.send(Buffer.from('-1'));
    channel.reply(call.correlationId, '{"code":"INVALID_ARGUMENT","message":"bad"}', 'error');
    await expect(call.reply).rejects.toMatchObject({
      code: 'REMOTE',
      remoteCode: 'INVALID_ARGUMENT',
      remoteMessage: 'bad',
    });
  });

  it('counts replies nobody waits for: unknown, missing or repeated correlation ids', async () => {
    const call = client.send(Buffer.from('1'));
    channel.reply(call.correlationId, '1');
    channel.reply(call.correlationId, '1');
    channel.reply('foreign', 'x');
    channel.reply(undefined, 'x');
    await expect(call.reply).resolves.toBe('1');
    expect(client.stats.unknownReplies).toBe(3);
  });

  it('rejects with TIMEOUT at the deadline and forgets the call', async () => {
    jest.useFakeTimers();
    const call = client.call(Buffer.from('1'));
    jest.advanceTimersByTime(999);
    expect(client.pendingCount).toBe(1);
    jest.advanceTimersByTime(1);
    await expect(codeOf(call)).resolves.toBe('TIMEOUT');
    expect(client.pendingCount).toBe(0);
  });

  it('refuses the call over maxInFlight with OVERLOADED, without publishing it', async () => {
    for (let i = 0; i < 3; i++) void client.call(Buffer.from('1')).catch(() => undefined);
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('OVERLOADED');
    expect(channel.published).toHaveLength(3);
  });

  it('fails the call as NO_WORKER (unroutable) when the broker returns it', async () => {
    const call = client.send(Buffer.from('1'));
    channel.returnMessage(call.correlationId as string);
    await expect(call.reply).rejects.toMatchObject({ code: 'NO_WORKER', reason: 'unroutable' });
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('NO_WORKER');
  });

  it('fails a call whose publish throws with CONNECTION_LOST', async () => {
    channel.publishThrows = true;
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('CONNECTION_LOST');
    expect(client.pendingCount).toBe(0);
  });

  it('fails every pending call at once when the connection closes, then refuses calls until it reconnects', async () => {
    const calls = [client.call(Buffer.from('1')), client.call(Buffer.from('2'))];
    connections[0].emit('close');
    await expect(Promise.all(calls.map(codeOf))).resolves.toEqual(['CONNECTION_LOST', 'CONNECTION_LOST']);
    expect(client.isConnected).toBe(false);
    await expect(codeOf(client.call(Buffer.from('3')))).resolves.toBe('BROKER_UNAVAILABLE');
  });

  it('treats its reply consumer being cancelled as a lost connection', async () => {
    const call = client.call(Buffer.from('1'));
    channel.cancelReplyConsumer();
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
  });

  it('close() without draining settles every pending call with CLIENT_CLOSED', async () => {
    const calls = [client.call(Buffer.from('1')), client.call(Buffer.from('2'))];
    await client.close({ drain: false });
    await expect(Promise.all(calls.map(codeOf))).resolves.toEqual(['CLIENT_CLOSED', 'CLIENT_CLOSED']);
    await expect(codeOf(client.call(Buffer.from('3')))).resolves.toBe('CLIENT_CLOSED');
  });
});
