import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { deleteQueues, uniqueQueue } from '../support/broker';
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

  describe('our gateway → tutorial server', () => {
    const queue = uniqueQueue('interop-gateway');
    let server: TutorialServer;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      // The tutorial server declared the queue first; our side must accept that declaration as is.
      server = await TutorialServer.start(queue);
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

    it('our worker can join the same queue the tutorial server declared', async () => {
      const { app } = await startWorker(queue);
      try {
        const res = await request(gateway.getHttpServer()).get('/fib/90').expect(200);
        expect(res.body.value).toBe('2880067194370816120');
      } finally {
        await app.close();
      }
    });
  });
});
