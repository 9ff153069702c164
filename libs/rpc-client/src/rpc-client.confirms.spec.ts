import { NACK_PROBE_MS } from './failover.policy';
import { ClientHarness, codeOf, waitUntil } from './testing/client-harness';
import { fakeBroker } from './testing/fake-amqp';

// The broker link opens connections through this module; the fake broker stands in for the broker.
jest.mock('../../runtime/src/amqp-connection', () => ({
  ...jest.requireActual<object>('../../runtime/src/amqp-connection'),
  connectAmqp: () => fakeBroker.connect(),
}));

const { connections } = fakeBroker;

/** A nack fails its call (defect 2); a late confirm is silence only when nothing else came back (defect 5). */
describe('RpcClient publisher confirms: silent links, nacks, late confirms (faked channel)', () => {
  const harness = new ClientHarness();

  afterEach(() => harness.closeAll());

  it('publishes requests with publisher confirms, or on a plain channel when confirmTimeoutMs is 0', async () => {
    await harness.open();
    expect(connections[0].channels[0].confirming).toBe(true);
    await harness.open({ confirmTimeoutMs: 0 });
    expect(connections[0].channels[0].confirming).toBe(false);
  });

  it('drops a link whose requests the broker does not confirm in time, and sends them again on the next link', async () => {
    const client = await harness.open({ resendOnLinkLoss: true, confirmTimeoutMs: 50, reconnectDelayMs: [10, 10] });
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
    const client = await harness.open({ confirmTimeoutMs: 30 });
    const call = client.call(Buffer.from('30'), { timeoutMs: 300 });
    await expect(codeOf(call)).resolves.toBe('TIMEOUT');
    expect(client.stats.silentLinkDrops).toBe(0);
    expect(connections).toHaveLength(1);
  });

  it('does not drop a link the broker has blocked: nothing is confirmed during an alarm, by design', async () => {
    const client = await harness.open({ confirmTimeoutMs: 30 });
    connections[0].channels[0].autoConfirm = false;
    void client.call(Buffer.from('1'), { timeoutMs: 500 }).catch(() => undefined);
    connections[0].emit('blocked', 'low on memory');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.stats.silentLinkDrops).toBe(0);
    expect(connections).toHaveLength(1);
  });

  it("does not take a closing channel's error callbacks for nacks", async () => {
    const client = await harness.open({ confirmTimeoutMs: 5000, reconnectDelayMs: [10, 10] });
    const channel = connections[0].channels[0];
    channel.autoConfirm = false;
    const call = client.call(Buffer.from('1'));
    channel.emit('close');
    await expect(codeOf(call)).resolves.toBe('CONNECTION_LOST');
    expect(client.stats.rejected).toBe(0);
  });

  it('waits confirmTimeoutMs again after flow control ends before it drops a link', async () => {
    const client = await harness.open({ confirmTimeoutMs: 100 });
    connections[0].channels[0].autoConfirm = false;
    void client.call(Buffer.from('1'), { timeoutMs: 2000 }).catch(() => undefined);
    connections[0].emit('blocked', 'low on memory');
    await new Promise((resolve) => setTimeout(resolve, 250));
    connections[0].emit('unblocked');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.stats.silentLinkDrops).toBe(0);
    await waitUntil(() => client.stats.silentLinkDrops === 1);
  });

  it('fails a nacked call at once with REJECTED, sends it nowhere again, and keeps the link (defect 2)', async () => {
    const client = await harness.open({ confirmTimeoutMs: 5000, reconnectDelayMs: [10, 10] });
    const channel = connections[0].channels[0];
    channel.autoConfirm = false;
    // the channel has had a publish confirmed: its nacks are the queue refusing (a length limit)
    const first = client.send(Buffer.from('0'));
    channel.unconfirmed.shift()?.(null);
    const refused = client.send(Buffer.from('1'));
    const kept = client.send(Buffer.from('2'));
    channel.unconfirmed.shift()?.(new Error('message nacked'));
    const startedAt = Date.now();
    await expect(codeOf(refused.reply)).resolves.toBe('REJECTED');
    expect(Date.now() - startedAt).toBeLessThan(100);
    channel.unconfirmed.shift()?.(null);
    channel.reply(kept.correlationId, '1');
    channel.reply(first.correlationId, '0');
    await expect(kept.reply).resolves.toBe('1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connections).toHaveLength(1);
    expect(client.isConnected).toBe(true);
    expect(channel.published.map(({ options }) => options.correlationId)).toEqual([
      first.correlationId,
      refused.correlationId,
      kept.correlationId,
    ]);
    expect(client.stats).toMatchObject({ resends: 0, rejected: 1, channelsReplaced: 0 });
  });

  it('sends calls nacked on a channel that never had an ack again on a fresh channel, without a reconnect (RabbitMQ 3.10 after a leader loss)', async () => {
    const client = await harness.open({ confirmTimeoutMs: 5000, reconnectDelayMs: [10, 10] });
    const broken = connections[0].channels[0];
    broken.autoConfirm = false;
    const nacked = [1, 2, 3, 4].map((n) => client.send(Buffer.from(String(n))));
    broken.nackAll();
    await waitUntil(() => client.stats.channelsReplaced === 1);
    const fresh = connections[0].channels[connections[0].channels.length - 1];
    expect(fresh).not.toBe(broken);
    await waitUntil(() => fresh.published.length === 4);
    expect(fresh.published.map(({ options }) => options.correlationId)).toEqual(nacked.map((c) => c.correlationId));
    nacked.forEach((call, i) => fresh.reply(call.correlationId, String(i + 1)));
    await expect(Promise.all(nacked.map(({ reply }) => reply))).resolves.toEqual(['1', '2', '3', '4']);
    // later calls go out on the fresh channel too
    const call = client.send(Buffer.from('30'));
    expect(fresh.published.map(({ options }) => options.correlationId)).toContain(call.correlationId);
    fresh.reply(call.correlationId, '832040');
    await expect(call.reply).resolves.toBe('832040');
    expect(connections).toHaveLength(1);
    expect(client.stats).toMatchObject({ rejected: 0, resends: 0, reconnects: 0 });
  });

  it('fails REJECTED a call every fresh channel nacks too, once it has tried them for NACK_PROBE_MS', async () => {
    const client = await harness.open({ confirmTimeoutMs: 10_000, timeoutMs: 8000 });
    connections[0].autoConfirm = false;
    connections[0].channels[0].autoConfirm = false;
    const startedAt = Date.now();
    const call = client.call(Buffer.from('1'));
    // the broker nacks every publish on every channel (a queue full from the start)
    const nacker = setInterval(() => {
      for (const channel of connections[0].channels) channel.nackAll();
    }, 20);
    try {
      await expect(codeOf(call)).resolves.toBe('REJECTED');
    } finally {
      clearInterval(nacker);
    }
    const tookMs = Date.now() - startedAt;
    expect(tookMs).toBeGreaterThanOrEqual(NACK_PROBE_MS - 50);
    expect(tookMs).toBeLessThan(NACK_PROBE_MS + 1500);
    // a few fresh channels, not one per nack
    expect(client.stats.channelsReplaced).toBeGreaterThan(1);
    expect(client.stats.channelsReplaced).toBeLessThan(10);
    expect(connections).toHaveLength(1);
  }, 10_000);

  it('does not take a late confirm for silence while the link answers otherwise (defect 5)', async () => {
    const client = await harness.open({ confirmTimeoutMs: 100, consumerCheckIntervalMs: 20 });
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
    const client = await harness.open({ confirmTimeoutMs: 100, reconnectDelayMs: [10, 10] });
    connections[0].channels[0].autoConfirm = false;
    void client.call(Buffer.from('1'), { timeoutMs: 2000 }).catch(() => undefined);
    await waitUntil(() => client.stats.silentLinkDrops === 1);
  });
});
