import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { consumerCount, deleteQueues, openReplyCollector, sleep, uniqueQueue, waitFor } from '../support/broker';
import { startWorker } from '../support/apps';
import { sample } from '../support/metrics';
import { messagesLeft } from '../support/raw-amqp';

/**
 * Direct reply-to addresses the broker cannot resolve: a node that is not there (`rabbit@nowhere`), and a
 * process of this broker's own node that does not exist (`rabbit@localhost`, a pid of zeros). RabbitMQ 3.10
 * closes the whole connection that publishes to either with 541 INTERNAL_ERROR.
 */
const UNREACHABLE = [
  'amq.rabbitmq.reply-to.g2AAAAAOcmFiYml0QG5vd2hlcmUAAAAAAAAAAAAAAAAAAAAA.AAAA',
  'amq.rabbitmq.reply-to.g2AAAAANcmFiYml0QGxvY2FsaG9zdAAAAAAAAAAAAAAAAAAAAAA=.AAAA',
];

const COMPUTED = 'fib_worker_compute_seconds_count{n_bucket="n<1e3"}';
const UNDELIVERABLE = 'fib_worker_replies_undeliverable_total';
const LINK_LOSSES = 'fib_worker_broker_link_losses_total';

/**
 * A reply the broker will not take never costs the worker its consuming link or any other request, the
 * replies of requests in flight beside it included; the request is acked once, counted, computed once.
 */
describe('worker and replies the broker will not take (e2e)', () => {
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

  function publish(queue: string, n: number, replyTo = replyQueue): string {
    const correlationId = randomUUID();
    channel.sendToQueue(queue, Buffer.from(String(n)), { correlationId, replyTo });
    return correlationId;
  }

  /** Samples the queue's consumer count until `done` resolves; every sample must be 1. */
  async function consumersWhile(queue: string, done: Promise<unknown>): Promise<number[]> {
    const counts: number[] = [];
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      counts.push(await consumerCount(queue));
      await sleep(50);
    }
    return counts;
  }

  it.each(UNREACHABLE.map((address) => [address.slice(22, 40), address]))(
    'one request to %s… then normal ones: the normal ones are answered, the link stays, the bad one is counted once',
    async (_label, address) => {
      const queue = uniqueQueue('reply-refused');
      const { app } = await startWorker(queue, { workerPrefetch: 100 });
      let closed = false;
      try {
        await app.getHttpAdapter().getInstance().ready();
        await waitFor(async () => (await consumerCount(queue)) === 1, 10_000, 'the worker consuming');
        publish(queue, 10, address);
        const normal = Array.from({ length: 20 }, () => publish(queue, 30));
        const answered = waitFor(() => normal.every((id) => replies.has(id)), 10_000, 'the normal requests answered');
        const counts = await consumersWhile(
          queue,
          answered.catch(() => undefined),
        );
        await answered;
        expect(normal.map((id) => replies.get(id)?.content.toString())).toEqual(normal.map(() => '832040'));
        expect(counts.filter((count) => count !== 1)).toEqual([]);
        await waitFor(async () => sample(await scrape(app), UNDELIVERABLE) === 1, 5000, 'the bad reply counted');
        const metrics = await scrape(app);
        expect({
          undeliverable: sample(metrics, UNDELIVERABLE),
          linkLosses: sample(metrics, LINK_LOSSES),
          consuming: sample(metrics, 'fib_worker_consuming'),
          computed: sample(metrics, COMPUTED),
        }).toEqual({ undeliverable: 1, linkLosses: 0, consuming: 1, computed: 21 });
        closed = true;
        await app.close();
        expect(await messagesLeft(queue)).toBe(0);
      } finally {
        if (!closed) await app.close();
        await deleteQueues(queue);
      }
    },
    30_000,
  );

  it('both addresses amid a burst: every reply in flight beside them still arrives, each bad one is counted once', async () => {
    const queue = uniqueQueue('reply-refused-burst');
    const { app } = await startWorker(queue, { workerPrefetch: 100 });
    let closed = false;
    try {
      await app.getHttpAdapter().getInstance().ready();
      await waitFor(async () => (await consumerCount(queue)) === 1, 10_000, 'the worker consuming');
      const normal: string[] = [];
      for (let i = 0; i < 200; i++) {
        if (i === 60) publish(queue, 10, UNREACHABLE[0]);
        if (i === 140) publish(queue, 10, UNREACHABLE[1]);
        normal.push(publish(queue, 30));
      }
      await waitFor(() => normal.every((id) => replies.has(id)), 15_000, 'every normal request answered');
      await waitFor(async () => sample(await scrape(app), UNDELIVERABLE) === 2, 5000, 'both bad replies counted');
      const metrics = await scrape(app);
      expect({ linkLosses: sample(metrics, LINK_LOSSES), computed: sample(metrics, COMPUTED) }).toEqual({
        linkLosses: 0,
        computed: 202,
      });
      // The broker did close the reply connection (one close may take both if they were in flight together).
      expect(sample(metrics, 'fib_worker_reply_connection_refusals_total')).toBeGreaterThanOrEqual(1);
      closed = true;
      await app.close();
      expect(await messagesLeft(queue)).toBe(0);
    } finally {
      if (!closed) await app.close();
      await deleteQueues(queue);
    }
  }, 40_000);
});
