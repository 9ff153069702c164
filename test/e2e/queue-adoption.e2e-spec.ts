import { ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import {
  consumerCount,
  deleteQueues,
  openBroker,
  TRANSIENT_QUEUES_DENIED,
  uniqueQueue,
  waitFor,
} from '../support/broker';
import { startWorker } from '../support/apps';
import { TutorialClient } from '../support/tutorial-peers';

type QueueType = 'quorum' | 'classic' | 'transient';

const QUORUM: Options.AssertQueue = { durable: true, arguments: { 'x-queue-type': 'quorum' } };
const CLASSIC: Options.AssertQueue = { durable: true, arguments: { 'x-queue-type': 'classic' } };
const TRANSIENT: Options.AssertQueue = { durable: false, arguments: { 'x-queue-type': 'classic' } };

/** Declarations of the request queue found in the wild, each made by a peer before our worker starts. */
const ALL_EXISTING: [string, Options.AssertQueue][] = [
  ["durable quorum (today's tutorial)", { durable: true, arguments: { 'x-queue-type': 'quorum' } }],
  ['durable classic', { durable: true }],
  ["non-durable classic (the seed's, the 2010s tutorial's)", { durable: false }],
  ['durable classic with a message TTL', { durable: true, arguments: { 'x-message-ttl': 600_000 } }],
];

/** What the worker must declare when the queue is absent, and declarations that must then conflict (406). */
const ALL_DECLARED: [QueueType, Options.AssertQueue, Options.AssertQueue[]][] = [
  ['quorum', QUORUM, [CLASSIC, TRANSIENT]],
  ['classic', CLASSIC, [QUORUM, TRANSIENT]],
  ['transient', TRANSIENT, [QUORUM, CLASSIC]],
];

// A broker with RabbitMQ 4.3's defaults refuses non-durable queues: nobody can have declared one, and the
// worker's `transient` declaration is refused (checked in its own describe below).
const EXISTING = ALL_EXISTING.filter(([, options]) => !TRANSIENT_QUEUES_DENIED || options.durable !== false);
const TYPES: [QueueType][] = TRANSIENT_QUEUES_DENIED
  ? [['quorum'], ['classic']]
  : [['quorum'], ['classic'], ['transient']];
const DECLARED = ALL_DECLARED.filter(([type]) => !TRANSIENT_QUEUES_DENIED || type !== 'transient').map(
  ([type, expected, conflicting]): [QueueType, Options.AssertQueue, Options.AssertQueue[]] => [
    type,
    expected,
    conflicting.filter((options) => !TRANSIENT_QUEUES_DENIED || options.durable !== false),
  ],
);

/** 'ok', or the AMQP reply code the broker closed the channel with (406 = inequivalent declaration). */
async function declare(queue: string, options: Options.AssertQueue): Promise<'ok' | number> {
  const connection = await openBroker();
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(queue, options);
      await channel.close();
      return 'ok';
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  } finally {
    await connection.close();
  }
}

/** A worker in this process, once the queue has `consumers` consumers (ours among them). */
async function startConsuming(queue: string, rpcQueueType?: QueueType, consumers = 1): Promise<NestFastifyApplication> {
  const { app } = await startWorker(queue, rpcQueueType === undefined ? {} : { rpcQueueType });
  try {
    await app.getHttpAdapter().getInstance().ready();
    await waitFor(
      async () => (await consumerCount(queue)) === consumers,
      10_000,
      `${consumers} consumer(s) on ${queue}`,
    );
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

/** A call awaited later: marked handled now, so that a test failing before it awaits does not leave a stray rejection. */
function pending<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * The worker adopts the request queue that exists, whatever its declaration (a passive check, never a
 * second declaration that could fail with 406), and declares it as RPC_QUEUE_TYPE says only when absent.
 */
describe('request queue adoption (e2e)', () => {
  let client: TutorialClient;
  let peer: ChannelModel;

  beforeAll(async () => {
    client = await TutorialClient.open();
    peer = await openBroker();
  });

  afterAll(async () => {
    await client.close();
    await peer.close();
  });

  describe.each(EXISTING)('queue already declared %s', (_label, existing) => {
    it.each<[QueueType]>(TYPES)(
      'RPC_QUEUE_TYPE=%s: consumed as it is; a request waiting in it is answered',
      async (type) => {
        const queue = uniqueQueue(`adopt-${type}`);
        const channel = await peer.createChannel();
        await channel.assertQueue(queue, existing);
        await channel.close();
        let worker: NestFastifyApplication | undefined;
        try {
          // Sent before any worker exists: lost if the worker deleted and re-declared the queue.
          const waiting = pending(client.call(queue, '30', 15_000));
          worker = await startConsuming(queue, type);
          expect((await waiting).body).toBe('832040');
          expect((await client.call(queue, '90')).body).toBe('2880067194370816120');
          expect(await consumerCount(queue)).toBe(1);
          await request(worker.getHttpServer()).get('/health').expect(200);
          // The peer's declaration still holds: same durability, type and arguments.
          expect(await declare(queue, existing)).toBe('ok');
        } finally {
          await worker?.close();
          await deleteQueues(queue);
        }
      },
    );
  });

  it.each(DECLARED)('absent queue, RPC_QUEUE_TYPE=%s: declared as that type', async (type, expected, conflicting) => {
    const queue = uniqueQueue(`declare-${type}`);
    let worker: NestFastifyApplication | undefined;
    try {
      worker = await startConsuming(queue, type);
      expect((await client.call(queue, '30')).body).toBe('832040');
      expect(await declare(queue, expected)).toBe('ok');
      for (const other of conflicting) expect(await declare(queue, other)).toBe(406);
    } finally {
      await worker?.close();
      await deleteQueues(queue);
    }
  });

  it('absent queue, RPC_QUEUE_TYPE unset: declared as a durable quorum queue', async () => {
    const queue = uniqueQueue('declare-default');
    let worker: NestFastifyApplication | undefined;
    try {
      worker = await startConsuming(queue);
      expect(await declare(queue, QUORUM)).toBe('ok');
      expect(await declare(queue, CLASSIC)).toBe(406);
    } finally {
      await worker?.close();
      await deleteQueues(queue);
    }
  });

  it('queue deleted while the worker runs: re-created as its type and consumed again', async () => {
    const queue = uniqueQueue('adopt-deleted');
    let worker: NestFastifyApplication | undefined;
    try {
      worker = await startConsuming(queue);
      const channel = await peer.createChannel();
      await channel.deleteQueue(queue);
      await channel.close();
      await waitFor(async () => (await consumerCount(queue)) === 1, 10_000, 'the queue re-created and consumed');
      expect((await client.call(queue, '30')).body).toBe('832040');
      expect(await declare(queue, QUORUM)).toBe('ok');
      await request(worker.getHttpServer()).get('/health').expect(200);
    } finally {
      await worker?.close();
      await deleteQueues(queue);
    }
  });

  describe('on a quorum request queue', () => {
    it('a request taken by a worker that dies before acking is redelivered and answered by ours', async () => {
      const queue = uniqueQueue('quorum-redeliver');
      const dying = await peer.createChannel();
      let dyingOpen = true;
      let worker: NestFastifyApplication | undefined;
      try {
        await dying.assertQueue(queue, QUORUM);
        await dying.prefetch(1);
        const taken: ConsumeMessage[] = [];
        await dying.consume(queue, (message) => message && taken.push(message));
        const call = pending(client.call(queue, '30', 15_000));
        await waitFor(() => taken.length === 1, 5000, 'the dying worker taking the request');
        worker = await startConsuming(queue, undefined, 2);
        // Dies holding the request unacked: the broker gives it to the other consumer, ours.
        dyingOpen = false;
        await dying.close();
        expect((await call).body).toBe('832040');
        expect(await consumerCount(queue)).toBe(1);
      } finally {
        if (dyingOpen) await dying.close();
        await worker?.close();
        await deleteQueues(queue);
      }
    });

    it('purging works', async () => {
      const queue = uniqueQueue('quorum-purge');
      const channel = await peer.createConfirmChannel();
      try {
        await channel.assertQueue(queue, QUORUM);
        for (let i = 0; i < 3; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
        await channel.waitForConfirms();
        expect((await channel.purgeQueue(queue)).messageCount).toBe(3);
        expect((await channel.checkQueue(queue)).messageCount).toBe(0);
      } finally {
        await channel.close();
        await deleteQueues(queue);
      }
    });
  });

  if (TRANSIENT_QUEUES_DENIED) {
    describe("on a broker that refuses non-durable queues (RabbitMQ 4.3's default)", () => {
      it('RPC_QUEUE_TYPE=transient on an absent queue: health 503 naming the setting, no crash; adopts the queue once a peer declares it', async () => {
        const queue = uniqueQueue('refused-transient');
        const { app } = await startWorker(queue, { rpcQueueType: 'transient' });
        try {
          await app.getHttpAdapter().getInstance().ready();
          await waitFor(
            async () => {
              const res = await request(app.getHttpServer()).get('/health');
              return res.status === 503 && /RPC_QUEUE_TYPE=transient/.test(JSON.stringify(res.body));
            },
            15_000,
            'health 503 naming RPC_QUEUE_TYPE',
          );
          expect(await consumerCount(queue)).toBe(0);
          // Today's tutorial server declares it as a quorum queue: the worker's next attempt adopts it.
          expect(await declare(queue, QUORUM)).toBe('ok');
          await waitFor(
            async () => (await consumerCount(queue)) === 1,
            15_000,
            'the worker consuming the adopted queue',
          );
          expect((await client.call(queue, '30')).body).toBe('832040');
          await request(app.getHttpServer()).get('/health').expect(200);
        } finally {
          await app.close();
          await deleteQueues(queue);
        }
      });
    });
  }
});
