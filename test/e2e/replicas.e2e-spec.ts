import { RpcClient } from '@app/rpc-client';
import { encodeFibRequest } from '@app/contracts';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RpcQueueServer } from '../../apps/fib-worker/src/rpc-queue/rpc-queue.server';
import { AMQP_URL, consumerCount, deleteQueues, sleep, uniqueQueue, waitFor } from '../support/broker';
import { startWorker } from '../support/apps';

/** Replicas share one queue; the broker spreads requests across them. */
describe('two worker replicas (e2e)', () => {
  const queue = uniqueQueue('replicas');
  const workers: { app: NestFastifyApplication; server: RpcQueueServer }[] = [];
  const client = new RpcClient({ url: AMQP_URL, queue, timeoutMs: 10_000 });

  beforeAll(async () => {
    workers.push(await startWorker(queue, { workerPrefetch: 1 }));
    workers.push(await startWorker(queue, { workerPrefetch: 1 }));
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
    for (const { app } of workers) await app.close();
    await deleteQueues(queue);
  });

  it('has one consumer per worker on the queue', async () => {
    expect(await consumerCount(queue)).toBe(2);
  });

  it('both replicas answer, and the answers add up to the calls made', async () => {
    const calls = 60;
    const values = await Promise.all(Array.from({ length: calls }, () => client.call(encodeFibRequest(20_000))));
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toHaveLength(4180);
    // A worker counts an answer once the broker has confirmed its reply, which can come after the caller read it.
    const total = (): number => workers.reduce((sum, { server }) => sum + server.stats.answered, 0);
    await waitFor(() => total() >= calls, 5000, `${calls} answers counted by the workers (${total()} so far)`);
    await sleep(100);
    const answered = workers.map(({ server }) => server.stats.answered);
    expect(answered[0]).toBeGreaterThan(0);
    expect(answered[1]).toBeGreaterThan(0);
    expect(answered[0] + answered[1]).toBe(calls);
  });
});
