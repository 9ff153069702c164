import { encodeFibRequest } from '@app/contracts';
import { RpcClient, RpcClientError } from '@app/rpc-client';
import { ChannelModel, connect } from 'amqplib';
import { sleep, uniqueQueue, waitFor } from '../support/broker';
import { PrivateNode } from '../support/private-node';

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof RpcClientError ? error.code : String(error)),
  );
}

/**
 * A client that starts while the broker blocks publishers (a memory alarm on a private node)
 * comes up blocked — calls 503 FLOW_CONTROL, health naming the block — and serves when the alarm
 * clears, with no reconnect churn (issue 16, defect 4: on 9855c54 the set-up timed out and was
 * retried every connectTimeoutMs, health said "set-up timed out", calls BROKER_UNAVAILABLE).
 */
describe('a client set up during a broker block (fault)', () => {
  const queue = uniqueQueue('alarm-setup');
  let node: PrivateNode;
  let worker: ChannelModel | undefined;
  let client: RpcClient | undefined;

  beforeAll(async () => {
    node = await PrivateNode.start({ name: `fibrpcblk${process.pid}` });
    worker = await connect(node.url);
    worker.on('error', () => undefined);
    const channel = await worker.createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.consume(queue, (message) => {
      if (message === null) return;
      channel.sendToQueue(String(message.properties.replyTo), Buffer.from('832040'), {
        correlationId: String(message.properties.correlationId),
      });
      channel.ack(message);
    });
  }, 180_000);

  afterAll(async () => {
    await client?.close({ drain: false });
    await worker?.close().catch(() => undefined);
    await node?.stop();
  }, 60_000);

  it('answers FLOW_CONTROL while blocked, without churning connections, and serves once the alarm clears', async () => {
    await node.memoryAlarm(true);
    client = new RpcClient({ url: node.url, queue, connectTimeoutMs: 1000, timeoutMs: 3000 });
    await Promise.race([client.connect(), sleep(3000)]);
    const blockedClient = client;
    await waitFor(() => /blocked/.test(blockedClient.health().reason ?? ''), 5000, 'health naming the block');
    const startedAt = Date.now();
    await expect(codeOf(client.call(encodeFibRequest(30)))).resolves.toBe('FLOW_CONTROL');
    expect(Date.now() - startedAt).toBeLessThan(500);
    // three set-up deadlines later: still the one connection, still blocked
    await sleep(3500);
    expect(client.health().reason).toMatch(/blocked/);
    const connections = (await node.ctl('list_connections', 'client_properties', '--silent'))
      .split('\n')
      .filter((line) => line.includes('fib-rpc client'));
    expect(connections).toHaveLength(1);
    await expect(codeOf(client.call(encodeFibRequest(30)))).resolves.toBe('FLOW_CONTROL');
    await node.memoryAlarm(false);
    await waitFor(() => blockedClient.health().status === 'up', 10_000, 'the client up after the alarm');
    await expect(client.call(encodeFibRequest(30))).resolves.toBe('832040');
    expect(client.stats.reconnects).toBe(0);
  }, 60_000);
});
