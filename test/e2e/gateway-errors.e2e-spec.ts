import { RpcClient } from '@app/rpc-client';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { deleteQueues, uniqueQueue, waitFor } from '../support/broker';
import { startGateway } from '../support/apps';
import { sample } from '../support/metrics';
import { TutorialServer } from '../support/tutorial-peers';

/** The 5xx rows: a worker that answers INTERNAL, one too slow for the deadline, and none at all. */
describe('gateway error answers (e2e)', () => {
  describe('worker answers INTERNAL', () => {
    const queue = uniqueQueue('internal');
    let server: TutorialServer;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      server = await TutorialServer.start(queue, {
        reply: (message, channel) =>
          channel.sendToQueue(
            message.properties.replyTo as string,
            Buffer.from('{"code":"INTERNAL","message":"disk on fire"}'),
            {
              correlationId: message.properties.correlationId as string,
              type: 'error',
              contentType: 'application/json',
            },
          ),
      });
      gateway = await startGateway(queue);
    });

    afterAll(async () => {
      await gateway.close();
      await server.stop();
      await deleteQueues(queue);
    });

    it('→ 502 with the worker message', async () => {
      const res = await request(gateway.getHttpServer()).get('/fib/7').expect(502);
      expect(res.body).toMatchObject({
        statusCode: 502,
        error: 'Bad Gateway',
        message: 'disk on fire',
        code: 'REMOTE',
      });
    });
  });

  describe('deadline passes while the only worker is slow', () => {
    const queue = uniqueQueue('deadline');
    let server: TutorialServer;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      server = await TutorialServer.start(queue, { delayMs: 700 });
      gateway = await startGateway(queue, { rpcTimeoutMs: 250 });
    });

    afterAll(async () => {
      await gateway.close();
      await server.stop();
      await deleteQueues(queue);
    });

    it('→ 504 at the deadline; the late reply is discarded and counted', async () => {
      const client = gateway.get(RpcClient);
      const before = client.stats.unknownReplies;
      const started = Date.now();
      const res = await request(gateway.getHttpServer()).get('/fib/12').expect(504);
      const elapsed = Date.now() - started;
      expect(res.body).toMatchObject({ statusCode: 504, error: 'Gateway Timeout', code: 'TIMEOUT' });
      expect(elapsed).toBeGreaterThanOrEqual(240);
      expect(elapsed).toBeLessThan(650);
      await waitFor(() => client.stats.unknownReplies > before, 3000, 'the late reply');
      expect(client.stats.unknownReplies).toBe(before + 1);
      expect(client.pendingCount).toBe(0);
      const metrics = (await request(gateway.getHttpServer()).get('/metrics').expect(200)).text;
      expect(sample(metrics, 'fib_gateway_rpc_unknown_replies_total')).toBe(before + 1);
      expect(sample(metrics, 'fib_gateway_rpc_calls_total{outcome="TIMEOUT"}')).toBe(1);
    });
  });

  describe('no worker consuming', () => {
    const queue = uniqueQueue('noworker');
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      gateway = await startGateway(queue);
    });

    afterAll(async () => {
      await gateway.close();
    });

    it('→ 503 with Retry-After well before the deadline', async () => {
      const started = Date.now();
      const res = await request(gateway.getHttpServer()).get('/fib/10').expect(503);
      expect(Date.now() - started).toBeLessThan(500);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'NO_WORKER' });
    });
  });

  describe('over RPC_MAX_IN_FLIGHT', () => {
    const queue = uniqueQueue('overload');
    let server: TutorialServer;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      server = await TutorialServer.start(queue, { delayMs: 300 });
      gateway = await startGateway(queue, { rpcMaxInFlight: 2 });
    });

    afterAll(async () => {
      await gateway.close();
      await server.stop();
      await deleteQueues(queue);
    });

    it('→ 503 at once for the call over the cap; the others are answered', async () => {
      const http = gateway.getHttpServer();
      const first = [1, 2].map((n) =>
        request(http)
          .get(`/fib/${n}`)
          .then((res) => res.status),
      );
      const client = gateway.get(RpcClient);
      await waitFor(() => client.pendingCount === 2, 2000, 'two pending calls');
      const started = Date.now();
      const res = await request(http).get('/fib/3').expect(503);
      expect(Date.now() - started).toBeLessThan(100);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toMatchObject({ statusCode: 503, code: 'OVERLOADED' });
      await expect(Promise.all(first)).resolves.toEqual([200, 200]);
    });
  });
});
