import { encodeFibRequest } from '@app/contracts';
import { RpcClient, RpcClientError } from '@app/rpc-client';
import { ChannelModel } from 'amqplib';
import { AMQP_URL, deleteQueues, openBroker, sleep, uniqueQueue, waitFor } from '../support/broker';

/**
 * A request queue an operator capped (x-max-length 1, x-overflow reject-publish): the broker nacks
 * what does not fit. Those calls fail at once with REJECTED (503), are not re-sent, and the link
 * stays up; what fitted is answered (issue 16, defect 2: on 9855c54 all five failed CONNECTION_LOST).
 */
describe('RpcClient against a length-limited request queue (e2e)', () => {
  const queue = uniqueQueue('capped');
  let peer: ChannelModel;
  let client: RpcClient;
  let received = 0;

  beforeAll(async () => {
    peer = await openBroker();
    const channel = await peer.createChannel();
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' },
    });
    // a slow tutorial-style worker: one request at a time, 800 ms each
    await channel.prefetch(1);
    await channel.consume(queue, (message) => {
      if (message === null) return;
      received++;
      setTimeout(() => {
        channel.sendToQueue(String(message.properties.replyTo), Buffer.from('1'), {
          correlationId: String(message.properties.correlationId),
        });
        channel.ack(message);
      }, 800);
    });
    client = new RpcClient({ url: AMQP_URL, queue, timeoutMs: 4000, consumerCheckIntervalMs: 200 });
    await client.connect();
    await waitFor(() => client.consumerCount === 1, 5000, 'the worker seen');
  });

  afterAll(async () => {
    await client?.close({ drain: false });
    await peer?.close();
    await deleteQueues(queue);
  });

  it('answers what fits, fails the rest fast with REJECTED, sends nothing again and keeps its link', async () => {
    const outcome = (reply: Promise<string>, sentAt: number): Promise<{ code: string; ms: number }> =>
      reply.then(
        () => ({ code: 'ok', ms: Date.now() - sentAt }),
        (error: unknown) => ({
          code: error instanceof RpcClientError ? error.code : String(error),
          ms: Date.now() - sentAt,
        }),
      );
    // the first is in the worker's hands; of the next four, one fits in the queue
    const first = outcome(client.call(encodeFibRequest(1)), Date.now());
    await waitFor(() => received === 1, 5000, 'the first request delivered');
    const sentAt = Date.now();
    const rest = [2, 3, 4, 5].map((n) => outcome(client.call(encodeFibRequest(n)), sentAt));
    const outcomes = await Promise.all([first, ...rest]);
    const answered = outcomes.filter(({ code }) => code === 'ok');
    const rejected = outcomes.filter(({ code }) => code === 'REJECTED');
    expect(answered).toHaveLength(2);
    expect(rejected).toHaveLength(3);
    for (const { ms } of rejected) expect(ms).toBeLessThan(1000);
    await sleep(300);
    expect(received).toBe(2);
    expect(client.stats).toMatchObject({
      reconnects: 0,
      resends: 0,
      rejected: 3,
      channelsReplaced: 0,
      silentLinkDrops: 0,
    });
    expect(client.isConnected).toBe(true);
  });
});
