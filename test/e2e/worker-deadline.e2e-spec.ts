import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { consumerCount, deleteQueues, openReplyCollector, uniqueQueue, waitFor } from '../support/broker';
import { startWorker } from '../support/apps';
import { sample } from '../support/metrics';
import { messagesLeft } from '../support/raw-amqp';
import { TutorialClient } from '../support/tutorial-peers';

/** The request header carrying the caller's absolute deadline, epoch ms (contract, "Request"). */
const DEADLINE = 'x-deadline';

/** fib(100000) has 20899 digits; its last 20, computed here modulo 10^20 independently of the app. */
const FIB_100000_DIGITS = 20899;
const FIB_100000_TAIL = ((): string => {
  const m = 10n ** 20n;
  let [a, b] = [0n, 1n];
  for (let i = 0; i < 100_000; i++) [a, b] = [b, (a + b) % m];
  return a.toString().padStart(20, '0');
})();

/**
 * A worker skips, without computing or replying, a request whose caller's deadline has passed — also when it
 * is already in the worker's prefetch window, where `expiration` no longer protects it — acks it and counts it.
 */
describe('worker and the request deadline header (e2e)', () => {
  let connection: ChannelModel;
  let channel: Channel;
  let replyQueue: string;
  let replies: Map<string, ConsumeMessage>;

  beforeAll(async () => {
    ({ connection, channel, replyQueue, replies } = await openReplyCollector());
  });

  afterAll(async () => {
    await connection.close();
  });

  async function scrape(app: NestFastifyApplication): Promise<string> {
    return (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
  }

  function publish(queue: string, n: number, headers?: Record<string, unknown>, expiration?: string): string {
    const correlationId = randomUUID();
    channel.sendToQueue(queue, Buffer.from(String(n)), { correlationId, replyTo: replyQueue, headers, expiration });
    return correlationId;
  }

  /** A worker of its own on a queue of its own, closed and its queue deleted afterwards. */
  async function withWorker(
    label: string,
    body: (queue: string, worker: NestFastifyApplication, close: () => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const queue = uniqueQueue(label);
    const { app } = await startWorker(queue, { workerPrefetch: 500 });
    let closed = false;
    const close = async (): Promise<void> => {
      closed = true;
      await app.close();
    };
    try {
      await app.getHttpAdapter().getInstance().ready();
      await waitFor(async () => (await consumerCount(queue)) === 1, 10_000, 'the worker consuming');
      await body(queue, app, close);
    } finally {
      if (!closed) await app.close();
      await deleteQueues(queue);
    }
  }

  it('a burst already past its deadline is acked unanswered and uncomputed, and counted; live ones are answered', async () => {
    await withWorker('deadline-burst', async (queue, worker, close) => {
      const before = await scrape(worker);
      const expired: string[] = [];
      const live: string[] = [];
      for (let i = 0; i < 100; i++) {
        expired.push(publish(queue, 100_000, { [DEADLINE]: Date.now() - 1000 }));
        if (i % 20 === 0) live.push(publish(queue, 100_000, { [DEADLINE]: Date.now() + 600_000 }));
      }
      await waitFor(() => live.every((id) => replies.has(id)), 20_000, 'the live requests answered');
      for (const id of live) {
        const value = replies.get(id)?.content.toString() ?? '';
        expect(value).toHaveLength(FIB_100000_DIGITS);
        expect(value.slice(-20)).toBe(FIB_100000_TAIL);
      }
      const expiredCount = async (): Promise<number> =>
        sample(await scrape(worker), 'fib_worker_requests_expired_total') -
        sample(before, 'fib_worker_requests_expired_total');
      await waitFor(async () => (await expiredCount()) >= expired.length, 10_000, 'the expired requests counted');
      expect(await expiredCount()).toBe(expired.length);
      // Replies leave the worker in order on one channel: once this one is here, any reply to an expired
      // request would be here too.
      const barrier = publish(queue, 10);
      await waitFor(() => replies.has(barrier), 5000, 'the barrier reply');
      expect(expired.filter((id) => replies.has(id))).toEqual([]);
      const after = await scrape(worker);
      const computedLarge = 'fib_worker_compute_seconds_count{n_bucket="n>=1e5"}';
      expect(sample(after, computedLarge) - sample(before, computedLarge)).toBe(live.length);
      await close();
      expect(await messagesLeft(queue)).toBe(0);
    });
  });

  it('a request without the header (a tutorial client) is answered as usual', async () => {
    await withWorker('deadline-none', async (queue, worker) => {
      const client = await TutorialClient.open();
      try {
        expect((await client.call(queue, '30')).body).toBe('832040');
      } finally {
        await client.close();
      }
      expect(sample(await scrape(worker), 'fib_worker_requests_total{outcome="ok"}')).toBe(1);
    });
  });

  it.each<[string, unknown]>([
    ['a string', 'soon'],
    ['an empty string', ''],
    ['a table', { at: 1 }],
  ])('a deadline header that is %s is no deadline: answered', async (_label, value) => {
    await withWorker('deadline-garbage', async (queue, worker) => {
      const id = publish(queue, 30, { [DEADLINE]: value });
      await waitFor(() => replies.has(id), 5000, 'the reply');
      expect(replies.get(id)?.content.toString()).toBe('832040');
      expect(sample(await scrape(worker), 'fib_worker_requests_expired_total')).toBe(0);
    });
  });

  it('past its deadline by more than its whole budget (the worker clock runs ahead): answered anyway, counted as skew', async () => {
    await withWorker('deadline-skew', async (queue, worker) => {
      const skewed = publish(queue, 30, { [DEADLINE]: Date.now() - 60_000 }, '5000');
      await waitFor(() => replies.has(skewed), 5000, 'the reply despite the deadline');
      expect(replies.get(skewed)?.content.toString()).toBe('832040');
      const metrics = await scrape(worker);
      expect({
        skewed: sample(metrics, 'fib_worker_requests_clock_skewed_total'),
        expired: sample(metrics, 'fib_worker_requests_expired_total'),
        ok: sample(metrics, 'fib_worker_requests_total{outcome="ok"}'),
      }).toEqual({ skewed: 1, expired: 0, ok: 1 });
    });
  });

  it('past its deadline by less than its budget: dropped as expired, with or without an expiration', async () => {
    await withWorker('deadline-late', async (queue, worker) => {
      const late = publish(queue, 30, { [DEADLINE]: Date.now() - 1000 }, '5000');
      const noBudget = publish(queue, 30, { [DEADLINE]: Date.now() - 60_000 });
      const barrier = publish(queue, 10);
      await waitFor(() => replies.has(barrier), 5000, 'the barrier reply');
      expect([late, noBudget].filter((id) => replies.has(id))).toEqual([]);
      const metrics = await scrape(worker);
      expect({
        skewed: sample(metrics, 'fib_worker_requests_clock_skewed_total'),
        expired: sample(metrics, 'fib_worker_requests_expired_total'),
      }).toEqual({ skewed: 0, expired: 2 });
    });
  });
});
