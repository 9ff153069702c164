import { RpcClient } from './rpc-client';
import { ClientHarness, codeOf } from './testing/client-harness';
import { FakeChannel, fakeBroker } from './testing/fake-amqp';

// The broker link opens connections through this module; the fake broker stands in for the broker.
jest.mock('../../runtime/src/amqp-connection', () => ({
  ...jest.requireActual<object>('../../runtime/src/amqp-connection'),
  connectAmqp: () => fakeBroker.connect(),
}));

const { connections } = fakeBroker;

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

describe('RpcClient options, deadlines, flow control, cancellation and close (faked channel)', () => {
  const harness = new ClientHarness();

  afterEach(() => harness.closeAll());

  it.each([2.5, -1, 0, Number.NaN, 2 ** 31])(
    'refuses a per-call timeoutMs of %p with INVALID_OPTIONS, publishing nothing and failing no other call (defect 7)',
    async (timeoutMs) => {
      const client = await harness.open();
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
    const client = await harness.open();
    const before = Date.now();
    void client.call(Buffer.from('1'), { timeoutMs: 700 }).catch(() => undefined);
    const { options } = connections[0].channels[0].published[0];
    const deadline = (options.headers as Record<string, number>)['x-deadline'];
    expect(deadline).toBeGreaterThanOrEqual(before + 700);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 700);
    // what remained at publish: at least what remains now (a loaded machine may take a while to get here)
    expect(Number(options.expiration)).toBeGreaterThanOrEqual(deadline - Date.now() - 1);
    expect(Number(options.expiration)).toBeLessThanOrEqual(700);
  });

  it('fails new calls with FLOW_CONTROL while the broker blocks the connection, and health says why', async () => {
    const client = await harness.open();
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
    const client = await harness.open();
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
    const client = await harness.open({ maxInFlight: 1 });
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
    const client = await harness.open();
    await expect(codeOf(client.call(Buffer.from('1'), { signal: AbortSignal.abort() }))).resolves.toBe('CANCELLED');
    expect(connections[0].channels[0].published).toHaveLength(0);
  });

  it('replies by direct reply-to by default: nothing declared', async () => {
    const client = await harness.open();
    void client.call(Buffer.from('1')).catch(() => undefined);
    expect(connections[0].channels[0].published[0].options.replyTo).toBe('amq.rabbitmq.reply-to');
  });

  it('gives every caller of close() the same promise: none resolves before the link is closed (defect 6)', async () => {
    const client = await harness.open();
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
});
