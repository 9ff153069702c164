import { RpcClient } from './rpc-client';
import { ClientHarness, codeOf, waitUntil } from './testing/client-harness';
import { fakeBroker } from './testing/fake-amqp';

// The broker link opens connections through this module; the fake broker stands in for the broker.
jest.mock('../../runtime/src/amqp-connection', () => ({
  ...jest.requireActual<object>('../../runtime/src/amqp-connection'),
  connectAmqp: () => fakeBroker.connect(),
}));

const { connections } = fakeBroker;

describe('RpcClient lost links, re-sends, failover hold and worker presence (faked channel)', () => {
  const harness = new ClientHarness();

  afterEach(() => harness.closeAll());

  it('drops a link whose consumer check gets no answer in time, fails its calls and reconnects', async () => {
    const client = await harness.open({
      consumerCheckIntervalMs: 20,
      consumerCheckTimeoutMs: 50,
      reconnectDelayMs: [10, 10],
    });
    const first = connections[0];
    const call = client.call(Buffer.from('1'));
    for (const channel of first.channels) channel.checkHangs = true;
    first.checksHang = true;
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
    expect(client.stats.silentLinkDrops).toBe(1);
    await waitUntil(() => connections.length >= 2 && client.isConnected);
  });

  it('checks a first zero consumer count again before refusing calls (a quorum leader election reports 0)', async () => {
    const client = await harness.open({ consumerCheckIntervalMs: 50 });
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

  it('believes a zero consumer count only once it has lasted a while: a quorum leader election of 700 ms refuses nothing', async () => {
    const client = await harness.open({ consumerCheckIntervalMs: 500, timeoutMs: 5000 });
    const checks = connections[0].channels[1];
    const pending = client.call(Buffer.from('1'));
    const outcome = codeOf(pending);
    // the election: the leader does not answer, and every check reads 0, for 700 ms
    checks.consumerCount = 0;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    checks.consumerCount = 1;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(client.consumerCount).toBe(1);
    connections[0].channels[0].reply(connections[0].channels[0].published[0].options.correlationId, '1');
    await expect(outcome).resolves.toBe('resolved');
  });

  it('does not drop a link the broker has blocked: its unanswered check is the alarm, not silence', async () => {
    const client = await harness.open({ consumerCheckIntervalMs: 20, consumerCheckTimeoutMs: 50 });
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
    const client = await harness.open({ resendOnLinkLoss: true, reconnectDelayMs: [10, 10] });
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

  it('holds new calls while failing over (failoverHoldMs) and sends them on the next link', async () => {
    const client = await harness.open({
      urls: ['amqp://a', 'amqp://b'],
      failoverHoldMs: 500,
      reconnectDelayMs: [10, 10],
    });
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
    const client = await harness.open({ failoverHoldMs: 5000, reconnectDelayMs: [5000, 5000] });
    connections[0].emit('close');
    const startedAt = Date.now();
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('BROKER_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeLessThan(100);
  });

  it('fails held calls with BROKER_UNAVAILABLE when the hold ends with no link, then refuses new ones at once', async () => {
    const client = await harness.open({
      urls: ['amqp://a', 'amqp://b', 'amqp://c'],
      failoverHoldMs: 100,
      reconnectDelayMs: [5000, 5000],
    });
    fakeBroker.failConnects = true;
    connections[0].emit('close');
    const startedAt = Date.now();
    const held = client.call(Buffer.from('1'));
    await expect(codeOf(held)).resolves.toBe('BROKER_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(90);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    await expect(codeOf(client.call(Buffer.from('2')))).resolves.toBe('BROKER_UNAVAILABLE');
  });

  it('never holds calls before the first link is up, and fails held calls at once when every node refused', async () => {
    fakeBroker.failConnects = true;
    const fresh = new RpcClient({ queue: 'q', failoverHoldMs: 5000, reconnectDelayMs: [5000, 5000] });
    harness.track(fresh);
    await fresh.connect();
    await expect(codeOf(fresh.call(Buffer.from('1')))).resolves.toBe('BROKER_UNAVAILABLE');
    fakeBroker.failConnects = false;
    const client = await harness.open({
      urls: ['amqp://a', 'amqp://b'],
      failoverHoldMs: 5000,
      reconnectDelayMs: [10, 10],
    });
    fakeBroker.failConnects = true;
    connections[0].emit('close');
    const startedAt = Date.now();
    const held = client.call(Buffer.from('1'));
    await expect(codeOf(held)).resolves.toBe('BROKER_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeLessThan(1000);
  });

  it('starts no failover hold when the client closes: close() leaves no timer behind', async () => {
    const client = await harness.open({ urls: ['amqp://a', 'amqp://b'], failoverHoldMs: 30_000 });
    const timers = jest.spyOn(global, 'setTimeout');
    try {
      await client.close({ drain: false });
      expect(timers.mock.calls.map(([, delayMs]) => delayMs)).not.toContain(30_000);
    } finally {
      timers.mockRestore();
    }
  });

  it('fails kept calls with CONNECTION_LOST at once when no node can be reached', async () => {
    const client = await harness.open({ resendOnLinkLoss: true, reconnectDelayMs: [10, 10] });
    const call = client.call(Buffer.from('30'));
    fakeBroker.failConnects = true;
    connections[0].emit('close');
    const startedAt = Date.now();
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
    expect(Date.now() - startedAt).toBeLessThan(500);
  });

  it('re-checks a cached zero consumer count before refusing a call, once for the calls that arrive meanwhile (defect 9)', async () => {
    // the gateway connected a moment before the worker consumed
    fakeBroker.initialConsumers = 0;
    const client = await harness.open();
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
    fakeBroker.initialConsumers = 0;
    const client = await harness.open();
    const startedAt = Date.now();
    await expect(codeOf(client.call(Buffer.from('1')))).resolves.toBe('NO_WORKER');
    expect(Date.now() - startedAt).toBeLessThan(200);
  });
});
