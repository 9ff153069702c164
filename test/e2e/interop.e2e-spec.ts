import { AppConfig } from '@app/runtime';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { RpcQueueServer } from '../../apps/fib-worker/src/rpc-queue/rpc-queue.server';
import { consumerCount, deleteQueues, TRANSIENT_QUEUES_DENIED, uniqueQueue, waitFor } from '../support/broker';
import { startGateway, startWorker } from '../support/apps';
import { TutorialClient, TutorialServer } from '../support/tutorial-peers';

/** The tutorial's programs work with ours unchanged, in both directions. */
describe('interoperability with tutorial-style peers (e2e)', () => {
  describe('tutorial client → our worker', () => {
    const queue = uniqueQueue('interop-worker');
    let worker: NestFastifyApplication;
    let client: TutorialClient;

    beforeAll(async () => {
      worker = (await startWorker(queue)).app;
      client = await TutorialClient.open();
    });

    afterAll(async () => {
      await client.close();
      await worker.close();
      await deleteQueues(queue);
    });

    it.each([
      ['30', '832040'],
      ['100', '354224848179261915075'],
    ])('fib(%s) comes back as plain text %s with the correlation id echoed', async (n, value) => {
      const reply = await client.call(queue, n);
      expect(reply.body).toBe(value);
      expect(reply.properties.contentType).toBe('text/plain');
      expect(reply.properties.type).toBeUndefined();
    });

    it('bad input comes back as the contract error reply', async () => {
      const reply = await client.call(queue, '-1');
      expect(reply.properties.type).toBe('error');
      expect(reply.properties.contentType).toBe('application/json');
      expect(JSON.parse(reply.body)).toEqual({ code: 'INVALID_ARGUMENT', message: expect.any(String) });
    });

    it('many tutorial calls at once are each answered with their own value', async () => {
      const ns = Array.from({ length: 200 }, (_, i) => i);
      const replies = await Promise.all(ns.map((n) => client.call(queue, String(n))));
      let [a, b] = [0n, 1n];
      for (const reply of replies) {
        expect(reply.body).toBe(a.toString());
        [a, b] = [b, a + b];
      }
    });
  });

  /** fib(0..19) through the gateway, 20 calls at once: every value right. */
  async function twentyAtOnce(gateway: NestFastifyApplication): Promise<void> {
    const ns = Array.from({ length: 20 }, (_, i) => i);
    const responses = await Promise.all(ns.map((n) => request(gateway.getHttpServer()).get(`/fib/${n}`)));
    let [a, b] = [0n, 1n];
    for (const [n, res] of responses.entries()) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ n, value: a.toString() });
      [a, b] = [b, a + b];
    }
  }

  describe.each<[string, 'quorum' | 'transient']>(
    withoutTransientWhereDenied([
      ["today's tutorial server (durable quorum queue)", 'quorum'],
      ["the seed's / 2010s tutorial server (non-durable classic queue)", 'transient'],
    ]),
  )('our gateway → %s, then our worker on the same queue', (_label, queueType) => {
    const queue = uniqueQueue(`interop-gateway-${queueType}`);
    let server: TutorialServer;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      // The tutorial server declared the queue first; our side must accept that declaration as is.
      server = await TutorialServer.start(queue, { queueType, delayMs: 50 });
      gateway = await startGateway(queue);
    });

    afterAll(async () => {
      await gateway.close();
      await server.stop();
      await deleteQueues(queue);
    });

    it('GET /fib/30 → 200 from a server that sets no content_type', async () => {
      const res = await request(gateway.getHttpServer()).get('/fib/30').expect(200);
      expect(res.body).toEqual({ n: 30, value: '832040' });
      expect(server.received).toBeGreaterThanOrEqual(1);
    });

    it('our worker started after it consumes the same queue beside it; both answer, every value right', async () => {
      const worker = await startWorker(queue);
      try {
        await waitFor(async () => (await consumerCount(queue)) === 2, 10_000, 'the tutorial server and our worker');
        const received = server.received;
        await twentyAtOnce(gateway);
        expect(server.received).toBeGreaterThan(received);
        await waitFor(() => worker.server.stats.answered > 0, 5000, 'an answer counted by our worker (on confirm)');
      } finally {
        await worker.app.close();
      }
    });
  });

  describe.each<[string, 'quorum' | 'transient', Partial<AppConfig>]>(
    withoutTransientWhereDenied([
      ["today's tutorial server, our worker by default", 'quorum', {}],
      ["the seed's server, our worker with RPC_QUEUE_TYPE=transient", 'transient', { rpcQueueType: 'transient' }],
    ]),
  )('our worker first, then %s declaring the same queue', (_label, queueType, overrides) => {
    const queue = uniqueQueue(`interop-worker-first-${queueType}`);
    let worker: { app: NestFastifyApplication; server: RpcQueueServer };
    let server: TutorialServer | undefined;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      worker = await startWorker(queue, overrides);
      await waitFor(async () => (await consumerCount(queue)) === 1, 10_000, 'our worker consuming');
      gateway = await startGateway(queue);
    });

    afterAll(async () => {
      await gateway.close();
      await server?.stop();
      await worker.app.close();
      await deleteQueues(queue);
    });

    it("the server's declaration is accepted (identical to ours); both answer, every value right", async () => {
      server = await TutorialServer.start(queue, { queueType, delayMs: 50 });
      await waitFor(async () => (await consumerCount(queue)) === 2, 10_000, 'our worker and the tutorial server');
      const answered = worker.server.stats.answered;
      await twentyAtOnce(gateway);
      expect(server.received).toBeGreaterThan(0);
      // Counted once the broker confirms the reply, which can come after the caller read it.
      await waitFor(() => worker.server.stats.answered > answered, 5000, 'an answer counted by our worker');
    });
  });
});

/** The seed's non-durable queue cannot exist on a broker with RabbitMQ 4.3's defaults (see queue-adoption's refusal test). */
function withoutTransientWhereDenied<T extends [string, 'quorum' | 'transient', ...unknown[]]>(rows: T[]): T[] {
  return rows.filter((row) => !TRANSIENT_QUEUES_DENIED || row[1] !== 'transient');
}
