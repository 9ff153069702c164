import { fib } from '@app/fib';
import { encodeFibRequest } from '@app/contracts';
import { RpcClient } from '@app/rpc-client';
import { AMQP_URL, deleteQueues, openBroker, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { TcpProxy } from '../support/tcp-proxy';
import { TutorialClient, TutorialReply } from '../support/tutorial-peers';

const BIG_N = 100_000;
const BIG_VALUE = fib(BIG_N).toString();

function startWorker(queue: string, env: Record<string, string> = {}): Promise<AppProcess> {
  const worker = new AppProcess('fib-worker', { AMQP_URL, RPC_QUEUE: queue, WORKER_PREFETCH: '16', ...env });
  return worker.waitForOutput(/consuming /).then(() => worker);
}

/** 300 calls of fib(BIG_N) from a tutorial client; resolves once 20 are answered, the rest still in flight. */
async function burstUnderWay(
  client: TutorialClient,
  queue: string,
): Promise<{ calls: Promise<TutorialReply>[]; answered: TutorialReply[] }> {
  const calls = Array.from({ length: 300 }, () => client.call(queue, String(BIG_N), 30_000));
  const answered: TutorialReply[] = [];
  for (const call of calls) void call.then((reply) => answered.push(reply));
  await waitFor(() => answered.length >= 20, 10_000, 'some answers');
  return { calls, answered };
}

/** Worker-side faults, with the built worker as a child process. */
describe('worker faults (fault)', () => {
  const workers: AppProcess[] = [];
  const queues: string[] = [];

  afterAll(async () => {
    for (const worker of workers) await worker.stop();
    await deleteQueues(...queues);
  });

  it('loses its broker connection, reconnects, and every request it held is redelivered and answered', async () => {
    const queue = uniqueQueue('w-loss');
    queues.push(queue);
    const proxy = await TcpProxy.start();
    const worker = await startWorker(queue, { AMQP_URL: proxy.url });
    workers.push(worker);
    const client = await TutorialClient.open();
    try {
      const { calls, answered } = await burstUnderWay(client, queue);
      await proxy.cut();
      const connection = await openBroker();
      const channel = await connection.createChannel();
      // Unacked requests go back to the queue: answered + queued accounts for every call (a request
      // whose reply got out just before the cut, but not its ack, is counted twice: at least once).
      await waitFor(
        async () => answered.length + (await channel.checkQueue(queue)).messageCount >= 300,
        5000,
        'held requests back in the queue',
      );
      await connection.close();
      await proxy.restore();
      const replies = await Promise.all(calls);
      expect(replies.filter((reply) => reply.body === BIG_VALUE)).toHaveLength(300);
      expect(worker.output).toMatch(/link to amqp:\/\/127\.0\.0\.1:\d+\/ lost .*reconnecting/);
      expect(worker.output).toMatch(/unacked requests go back to the queue/);
      expect(worker.output.match(/consuming /g)).toHaveLength(2);
    } finally {
      await client.close();
      await proxy.cut();
    }
  });

  it('dies mid-request (SIGKILL): the other replica answers what it held, within the deadline', async () => {
    const queue = uniqueQueue('w-kill');
    queues.push(queue);
    const [a, b] = await Promise.all([startWorker(queue), startWorker(queue)]);
    workers.push(a, b);
    const client = new RpcClient({ url: AMQP_URL, queue, timeoutMs: 15_000 });
    await client.connect();
    try {
      await waitFor(() => client.consumerCount === 2, 3000, 'two consumers');
      let settled = 0;
      const calls = Array.from({ length: 300 }, () => client.call(encodeFibRequest(BIG_N)).finally(() => settled++));
      await waitFor(() => settled >= 30, 10_000, 'some answers');
      a.signal('SIGKILL');
      expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const outcomes = await Promise.allSettled(calls);
      const correct = outcomes.filter((o) => o.status === 'fulfilled' && o.value === BIG_VALUE);
      expect(correct).toHaveLength(300);
    } finally {
      await client.close();
    }
  });

  it('on SIGTERM cancels its consumer, replies to and acks what it holds, and exits 0', async () => {
    const queue = uniqueQueue('w-term');
    queues.push(queue);
    const worker = await startWorker(queue, { WORKER_PREFETCH: '50' });
    workers.push(worker);
    const client = await TutorialClient.open();
    try {
      const { calls, answered } = await burstUnderWay(client, queue);
      worker.signal('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      const connection = await openBroker();
      const channel = await connection.createChannel();
      const { messageCount, consumerCount } = await channel.checkQueue(queue);
      await connection.close();
      // Nothing acked without a reply, nothing replied without an ack.
      expect(consumerCount).toBe(0);
      expect(answered.length + messageCount).toBe(300);
      const next = await startWorker(queue);
      workers.push(next);
      const replies = await Promise.all(calls);
      expect(replies.filter((reply) => reply.body === BIG_VALUE)).toHaveLength(300);
    } finally {
      await client.close();
    }
  });
});
