import { EventEmitter } from 'node:events';
import type { ConsumeMessage, Options } from 'amqplib';
import { WRITE_PROBE_ROUTING_KEY } from '@app/runtime';
import { RpcClient } from './rpc-client';
import { RpcClientError } from './errors';

/** A channel double: records publishes, lets a test deliver replies and returns, and fail. */
/** The consumer count every new fake channel reports at first. */
let initialConsumers = 1;

class FakeChannel extends EventEmitter {
  published: { routingKey: string; body: Buffer; options: Options.Publish }[] = [];
  consumerCount = initialConsumers;
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

  constructor() {
    super();
    // as amqplib's Channel does, from its constructor (so before any listener of the client's): a closing
    // channel calls back every unconfirmed publish with an error that is no nack
    this.on('close', () => {
      for (const confirmed of this.unconfirmed.splice(0)) confirmed(new Error('channel closed'));
    });
  }
  private onReply: ((message: ConsumeMessage | null) => void) | undefined;

  assertQueue(): Promise<{ queue: string }> {
    return Promise.resolve({ queue: 'amq.gen-fake' });
  }

  consume(_queue: string, onMessage: (message: ConsumeMessage | null) => void): Promise<{ consumerTag: string }> {
    this.onReply = onMessage;
    return Promise.resolve({ consumerTag: 'ctag' });
  }

  /** Consumer checks answered. */
  checks = 0;

  checkQueue(): Promise<{ consumerCount: number }> {
    if (this.checkHangs) return new Promise(() => undefined);
    this.checks++;
    return Promise.resolve({ consumerCount: this.consumerCount });
  }

  /** The set-up's write-permission probe, kept apart from the requests. */
  probes = 0;

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

class FakeConnection extends EventEmitter {
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

const connections: FakeConnection[] = [];
let failConnects = false;
// The broker link opens connections through this module; the fake stands in for the broker.
jest.mock('../../runtime/src/amqp-connection', () => ({
  ...jest.requireActual<object>('../../runtime/src/amqp-connection'),
  connectAmqp: () => {
    if (failConnects) return Promise.reject(new Error('connect ECONNREFUSED'));
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
    client = new RpcClient({
      queue: 'q',
      replyMode: 'queue',
      timeoutMs: 1000,
      maxInFlight: 3,
      consumerCheckIntervalMs: 60_000,
    });
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
      contentType: 'text/plain',
      mandatory: true,
    });
    expect(typeof options.correlationId).toBe('string');
    // what is left of the deadline, in ms: the whole timeout unless a millisecond ticked since the call
    expect(Number(options.expiration)).toBeGreaterThan(990);
    expect(Number(options.expiration)).toBeLessThanOrEqual(1000);
    // set-up probed the write permission once, before any call
    expect(channel.probes).toBe(1);
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
    // the queue is gone: the next call's fresh consumer check finds nobody
    connections[0].channels[1].consumerCount = 0;
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

describe('RpcClient options, flow control, cancellation, silent links and re-sends (faked channel)', () => {
  const clients: RpcClient[] = [];

  async function open(options: ConstructorParameters<typeof RpcClient>[0] = {}): Promise<RpcClient> {
    connections.length = 0;
    const client = new RpcClient({ queue: 'q', timeoutMs: 1000, consumerCheckIntervalMs: 60_000, ...options });
    clients.push(client);
    await client.connect();
    return client;
  }

  afterEach(async () => {
    // a test that made every node refuse, passed or failed, leaves the broker reachable again
    failConnects = false;
    await Promise.all(clients.splice(0).map((c) => c.close({ drain: false })));
  });

  it.each([2.5, -1, 0, Number.NaN, 2 ** 31])(
    'refuses a per-call timeoutMs of %p with INVALID_OPTIONS, publishing nothing and failing no other call (defect 7)',
    async (timeoutMs) => {
      const client = await open();
      const channel = connections[0].channels[0];
      const other = client.send(Buffer.from('1'));
      await expect(codeOf(client.call(Buffer.from('2'), { timeoutMs }))).resolves.toBe('INVALID_OPTIONS');
      expect(channel.published).toHaveLength(1);
      channel.reply(other.correlationId, '1');
      await expect(other.reply).resolves.toBe('1');
    },
  );

  it.each([2.5, -1, 0])('refuses a client timeoutMs of %p at construction', (timeoutMs) => {
    expect(() => new RpcClient({ timeoutMs })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });

  it('sends the absolute deadline in the x-deadline header, and the remaining time as expiration', async () => {
    const client = await open();
    const before = Date.now();
    void client.call(Buffer.from('1'), { timeoutMs: 700 }).catch(() => undefined);
    const { options } = connections[0].channels[0].published[0];
    const deadline = (options.headers as Record<string, number>)['x-deadline'];
    expect(deadline).toBeGreaterThanOrEqual(before + 700);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 700);
    expect(Number(options.expiration)).toBeGreaterThan(690);
    expect(Number(options.expiration)).toBeLessThanOrEqual(700);
  });

  it('fails new calls with FLOW_CONTROL while the broker blocks the connection, and health says why', async () => {
    const client = await open();
    connections[0].emit('blocked', 'low on memory');
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('FLOW_CONTROL');
    expect(client.health()).toMatchObject({ status: 'down', reason: expect.stringMatching(/low on memory/) });
    expect(connections[0].channels[0].published).toHaveLength(0);
    connections[0].emit('unblocked');
    expect(client.health().status).toBe('up');
    void client.call(Buffer.from('1')).catch(() => undefined);
    expect(connections[0].channels[0].published).toHaveLength(1);
  });

  it('fails new calls with FLOW_CONTROL while the socket is not draining, until drain', async () => {
    const client = await open();
    const channel = connections[0].channels[0];
    channel.publishReturns = false;
    void client.call(Buffer.from('1')).catch(() => undefined);
    await expect(codeOf(client.call(Buffer.from('2')))).resolves.toBe('FLOW_CONTROL');
    expect(channel.published).toHaveLength(1);
    channel.publishReturns = true;
    channel.emit('drain');
    void client.call(Buffer.from('3')).catch(() => undefined);
    expect(channel.published).toHaveLength(2);
  });

  it('settles a call with CANCELLED when its signal aborts, freeing its slot at once', async () => {
    const client = await open({ maxInFlight: 1 });
    const controller = new AbortController();
    const call = client.call(Buffer.from('1'), { signal: controller.signal });
    await expect(codeOf(client.call(Buffer.from('2')))).resolves.toBe('OVERLOADED');
    controller.abort();
    await expect(codeOf(call)).resolves.toBe('CANCELLED');
    expect(client.pendingCount).toBe(0);
    expect(client.stats.cancelled).toBe(1);
    void client.call(Buffer.from('3')).catch(() => undefined);
    expect(client.pendingCount).toBe(1);
  });

  it('refuses a call whose signal has already aborted, without publishing', async () => {
    const client = await open();
    await expect(codeOf(client.call(Buffer.from('1'), { signal: AbortSignal.abort() }))).resolves.toBe('CANCELLED');
    expect(connections[0].channels[0].published).toHaveLength(0);
  });

  it('drops a link whose consumer check gets no answer in time, fails its calls and reconnects', async () => {
    const client = await open({ consumerCheckIntervalMs: 20, consumerCheckTimeoutMs: 50, reconnectDelayMs: [10, 10] });
    const first = connections[0];
    const call = client.call(Buffer.from('1'));
    for (const channel of first.channels) channel.checkHangs = true;
    first.checksHang = true;
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
    expect(client.stats.silentLinkDrops).toBe(1);
    await waitUntil(() => connections.length >= 2 && client.isConnected);
  });

  it('checks a first zero consumer count again before refusing calls (a quorum leader election reports 0)', async () => {
    const client = await open({ consumerCheckIntervalMs: 50 });
    const checks = connections[0].channels[1];
    const before = checks.checks;
    checks.consumerCount = 0;
    // one zero: not yet believed, calls still go out
    await waitUntil(() => checks.checks >= before + 1);
    expect(client.consumerCount).toBe(1);
    void client.call(Buffer.from('1')).catch(() => undefined);
    expect(connections[0].channels[0].published).toHaveLength(1);
    // the election is over before the re-check: nothing was refused
    checks.consumerCount = 1;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(client.consumerCount).toBe(1);
    // two zeros in a row: the worker is gone; pending calls fail, new ones are refused
    const pending = client.call(Buffer.from('2'));
    checks.consumerCount = 0;
    await expect(codeOf(pending)).resolves.toBe('NO_WORKER');
    await expect(codeOf(client.call(Buffer.from('3')))).resolves.toBe('NO_WORKER');
  });

  it('does not drop a link the broker has blocked: its unanswered check is the alarm, not silence', async () => {
    const client = await open({ consumerCheckIntervalMs: 20, consumerCheckTimeoutMs: 50 });
    const first = connections[0];
    first.emit('blocked', 'low on memory');
    for (const channel of first.channels) channel.checkHangs = true;
    first.checksHang = true;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.stats.silentLinkDrops).toBe(0);
    expect(connections).toHaveLength(1);
    expect(client.health()).toMatchObject({ status: 'down', reason: expect.stringMatching(/low on memory/) });
  });

  it('sends calls in flight again on the next link when resendOnLinkLoss is on, and the caller gets the answer', async () => {
    const client = await open({ resendOnLinkLoss: true, reconnectDelayMs: [10, 10] });
    const call = client.send(Buffer.from('30'));
    connections[0].emit('close');
    await waitUntil(() => connections.length >= 2 && client.isConnected);
    const channel = connections[1].channels[0];
    expect(channel.published).toHaveLength(1);
    expect(channel.published[0].options.correlationId).toBe(call.correlationId);
    expect(Number(channel.published[0].options.expiration)).toBeLessThanOrEqual(1000);
    channel.reply(call.correlationId, '832040');
    await expect(call.reply).resolves.toBe('832040');
    expect(client.stats.resends).toBe(1);
  });

  it('replies by direct reply-to by default: nothing declared', async () => {
    const client = await open();
    void client.call(Buffer.from('1')).catch(() => undefined);
    expect(connections[0].channels[0].published[0].options.replyTo).toBe('amq.rabbitmq.reply-to');
  });

  it('publishes requests with publisher confirms, or on a plain channel when confirmTimeoutMs is 0', async () => {
    await open();
    expect(connections[0].channels[0].confirming).toBe(true);
    await open({ confirmTimeoutMs: 0 });
    expect(connections[0].channels[0].confirming).toBe(false);
  });

  it('drops a link whose requests the broker does not confirm in time, and sends them again on the next link', async () => {
    const client = await open({ resendOnLinkLoss: true, confirmTimeoutMs: 50, reconnectDelayMs: [10, 10] });
    const first = connections[0].channels[0];
    first.autoConfirm = false;
    const call = client.send(Buffer.from('30'));
    await waitUntil(() => connections.length >= 2 && client.isConnected);
    expect(client.stats.silentLinkDrops).toBe(1);
    const channel = connections[1].channels[0];
    expect(channel.published.map(({ options }) => options.correlationId)).toEqual([call.correlationId]);
    channel.reply(call.correlationId, '832040');
    await expect(call.reply).resolves.toBe('832040');
    // confirmed on the new link: no further drop
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(client.stats.silentLinkDrops).toBe(1);
    expect(client.stats.rejected).toBe(0);
  });

  it('keeps a link whose requests are confirmed, however long their replies take', async () => {
    const client = await open({ confirmTimeoutMs: 30 });
    const call = client.call(Buffer.from('30'), { timeoutMs: 300 });
    await expect(codeOf(call)).resolves.toBe('TIMEOUT');
    expect(client.stats.silentLinkDrops).toBe(0);
    expect(connections).toHaveLength(1);
  });

  it('does not drop a link the broker has blocked: nothing is confirmed during an alarm, by design', async () => {
    const client = await open({ confirmTimeoutMs: 30 });
    connections[0].channels[0].autoConfirm = false;
    void client.call(Buffer.from('1'), { timeoutMs: 500 }).catch(() => undefined);
    connections[0].emit('blocked', 'low on memory');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.stats.silentLinkDrops).toBe(0);
    expect(connections).toHaveLength(1);
  });

  it("does not take a closing channel's error callbacks for nacks", async () => {
    const client = await open({ confirmTimeoutMs: 5000, reconnectDelayMs: [10, 10] });
    const channel = connections[0].channels[0];
    channel.autoConfirm = false;
    const call = client.call(Buffer.from('1'));
    channel.emit('close');
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
    expect(client.stats.rejected).toBe(0);
  });

  it('waits confirmTimeoutMs again after flow control ends before it drops a link', async () => {
    const client = await open({ confirmTimeoutMs: 100 });
    connections[0].channels[0].autoConfirm = false;
    void client.call(Buffer.from('1'), { timeoutMs: 2000 }).catch(() => undefined);
    connections[0].emit('blocked', 'low on memory');
    await new Promise((resolve) => setTimeout(resolve, 250));
    connections[0].emit('unblocked');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.stats.silentLinkDrops).toBe(0);
    await waitUntil(() => client.stats.silentLinkDrops === 1);
  });

  it('holds new calls while failing over (failoverHoldMs) and sends them on the next link', async () => {
    const client = await open({ urls: ['amqp://a', 'amqp://b'], failoverHoldMs: 500, reconnectDelayMs: [10, 10] });
    connections[0].emit('close');
    expect(client.isConnected).toBe(false);
    const call = client.send(Buffer.from('30'));
    expect(call.correlationId).toBeDefined();
    await waitUntil(() => connections.length >= 2 && client.isConnected);
    const channel = connections[1].channels[0];
    expect(channel.published.map(({ options }) => options.correlationId)).toEqual([call.correlationId]);
    channel.reply(call.correlationId, '832040');
    await expect(call.reply).resolves.toBe('832040');
    // never sent before: not a re-send
    expect(client.stats.resends).toBe(0);
  });

  it('holds nothing with a single node: a lost link is an outage, new calls fail at once', async () => {
    const client = await open({ failoverHoldMs: 5000, reconnectDelayMs: [5000, 5000] });
    connections[0].emit('close');
    const startedAt = Date.now();
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('BROKER_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeLessThan(100);
  });

  it('fails held calls with BROKER_UNAVAILABLE when the hold ends with no link, then refuses new ones at once', async () => {
    const client = await open({
      urls: ['amqp://a', 'amqp://b', 'amqp://c'],
      failoverHoldMs: 100,
      reconnectDelayMs: [5000, 5000],
    });
    failConnects = true;
    connections[0].emit('close');
    const startedAt = Date.now();
    const held = client.call(Buffer.from('1'));
    await expect(codeOf(held)).resolves.toBe('BROKER_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(90);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    await expect(codeOf(client.call(Buffer.from('2')))).resolves.toBe('BROKER_UNAVAILABLE');
  });

  it('never holds calls before the first link is up, and fails held calls at once when every node refused', async () => {
    failConnects = true;
    const fresh = new RpcClient({ queue: 'q', failoverHoldMs: 5000, reconnectDelayMs: [5000, 5000] });
    clients.push(fresh);
    await fresh.connect();
    await expect(codeOf(fresh.call(Buffer.from('1')))).resolves.toBe('BROKER_UNAVAILABLE');
    failConnects = false;
    const client = await open({ urls: ['amqp://a', 'amqp://b'], failoverHoldMs: 5000, reconnectDelayMs: [10, 10] });
    failConnects = true;
    connections[0].emit('close');
    const startedAt = Date.now();
    const held = client.call(Buffer.from('1'));
    await expect(codeOf(held)).resolves.toBe('BROKER_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeLessThan(1000);
  });

  it('fails kept calls with CONNECTION_LOST at once when no node can be reached', async () => {
    const client = await open({ resendOnLinkLoss: true, reconnectDelayMs: [10, 10] });
    const call = client.call(Buffer.from('30'));
    failConnects = true;
    connections[0].emit('close');
    const startedAt = Date.now();
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
    expect(Date.now() - startedAt).toBeLessThan(500);
  });
});

/** The third review's defects (issue 16), each first seen failing on 9855c54. */
describe('RpcClient: refused publishes, late confirms, close, stale zero counts (faked channel)', () => {
  const clients: RpcClient[] = [];

  async function open(options: ConstructorParameters<typeof RpcClient>[0] = {}): Promise<RpcClient> {
    connections.length = 0;
    const client = new RpcClient({ queue: 'q', timeoutMs: 1000, consumerCheckIntervalMs: 60_000, ...options });
    clients.push(client);
    await client.connect();
    return client;
  }

  afterEach(async () => {
    failConnects = false;
    initialConsumers = 1;
    await Promise.all(clients.splice(0).map((c) => c.close({ drain: false })));
  });

  it('fails a nacked call at once with REJECTED, sends it nowhere again, and keeps the link (defect 2)', async () => {
    const client = await open({ confirmTimeoutMs: 5000, reconnectDelayMs: [10, 10] });
    const channel = connections[0].channels[0];
    channel.autoConfirm = false;
    const refused = client.send(Buffer.from('1'));
    const kept = client.send(Buffer.from('2'));
    channel.unconfirmed.shift()?.(new Error('message nacked'));
    const startedAt = Date.now();
    await expect(codeOf(refused.reply)).resolves.toBe('REJECTED');
    expect(Date.now() - startedAt).toBeLessThan(100);
    channel.unconfirmed.shift()?.(null);
    channel.reply(kept.correlationId, '1');
    await expect(kept.reply).resolves.toBe('1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections).toHaveLength(1);
    expect(client.isConnected).toBe(true);
    expect(channel.published.map(({ options }) => options.correlationId)).toEqual([
      refused.correlationId,
      kept.correlationId,
    ]);
    expect(client.stats.resends).toBe(0);
  });

  it('moves publishing to a fresh channel when nacks persist on one, without a reconnect (defect 2)', async () => {
    const client = await open({ confirmTimeoutMs: 5000, reconnectDelayMs: [10, 10] });
    const broken = connections[0].channels[0];
    broken.autoConfirm = false;
    const nacked = [1, 2, 3, 4].map((n) => client.send(Buffer.from(String(n))));
    broken.nackAll();
    const codes = await Promise.all(nacked.map(({ reply }) => codeOf(reply)));
    expect(codes).toEqual(['REJECTED', 'REJECTED', 'REJECTED', 'REJECTED']);
    await waitUntil(() => client.stats.channelsReplaced === 1);
    const call = client.send(Buffer.from('30'));
    const fresh = connections[0].channels.find((c) =>
      c.published.some((p) => p.options.correlationId === call.correlationId),
    );
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(broken);
    fresh?.reply(call.correlationId, '832040');
    await expect(call.reply).resolves.toBe('832040');
    expect(connections).toHaveLength(1);
  });

  it('does not take a late confirm for silence while the link answers otherwise (defect 5)', async () => {
    const client = await open({ confirmTimeoutMs: 100, consumerCheckIntervalMs: 20 });
    const channel = connections[0].channels[0];
    channel.autoConfirm = false;
    const slow = client.send(Buffer.from('1'), { timeoutMs: 2000 });
    // replies of other calls keep coming back, and the consumer check answers: a slow commit, not a dead link
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 40));
      channel.reply(`foreign-${i}`, '0');
    }
    expect(client.stats.silentLinkDrops).toBe(0);
    expect(connections).toHaveLength(1);
    channel.unconfirmed.shift()?.(null);
    channel.reply(slow.correlationId, '1');
    await expect(slow.reply).resolves.toBe('1');
  });

  it('still drops a link where nothing at all comes back, confirms included', async () => {
    const client = await open({ confirmTimeoutMs: 100, reconnectDelayMs: [10, 10] });
    connections[0].channels[0].autoConfirm = false;
    void client.call(Buffer.from('1'), { timeoutMs: 2000 }).catch(() => undefined);
    await waitUntil(() => client.stats.silentLinkDrops === 1);
  });

  it('gives every caller of close() the same promise: none resolves before the link is closed (defect 6)', async () => {
    const client = await open();
    const call = client.call(Buffer.from('1'), { timeoutMs: 300 }).catch(() => undefined);
    const first = client.close();
    let secondDone = false;
    const second = client.close().then(() => (secondDone = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // the first close is still draining the pending call: the second must not report closed yet
    expect(secondDone).toBe(false);
    await Promise.all([first, second, call]);
    expect(client.health()).toMatchObject({ state: 'closed' });
  });

  it('re-checks a cached zero consumer count before refusing a call, once for the calls that arrive meanwhile (defect 9)', async () => {
    // the gateway connected a moment before the worker consumed
    initialConsumers = 0;
    const client = await open();
    expect(client.consumerCount).toBe(0);
    const probe = connections[0].channels[1];
    probe.consumerCount = 1;
    const before = probe.checks;
    const calls = [1, 2, 3].map((n) => client.send(Buffer.from(String(n))));
    const codes = calls.map(({ reply }) => codeOf(reply));
    await waitUntil(() => connections[0].channels[0].published.length === 3);
    expect(probe.checks - before).toBe(1);
    calls.forEach(({ correlationId }) => connections[0].channels[0].reply(correlationId, '1'));
    await expect(Promise.all(codes)).resolves.toEqual(['resolved', 'resolved', 'resolved']);
  });

  it('refuses NO_WORKER on a fresh zero, fast', async () => {
    initialConsumers = 0;
    const client = await open();
    const startedAt = Date.now();
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('NO_WORKER');
    expect(Date.now() - startedAt).toBeLessThan(200);
  });
});

async function waitUntil(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
