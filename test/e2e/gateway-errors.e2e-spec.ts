import { RpcClient } from '@app/rpc-client';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ChannelModel } from 'amqplib';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { deleteQueues, openBroker, sleep, uniqueQueue, waitFor, TEST_QUEUE_OPTIONS } from '../support/broker';
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
      expect(Date.now() - started).toBeLessThan(1000);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toMatchObject({ statusCode: 503, code: 'OVERLOADED' });
      await expect(Promise.all(first)).resolves.toEqual([200, 200]);
    });
  });

  describe('callers that disconnect before their answer', () => {
    const queue = uniqueQueue('cancel');
    let broker: ChannelModel;
    let deliveries = 0;
    let gateway: NestFastifyApplication;
    let base: string;

    beforeAll(async () => {
      // A worker that takes every request and never answers (nor acks): only the caller leaving can end a call early.
      broker = await openBroker();
      const channel = await broker.createChannel();
      await channel.assertQueue(queue, TEST_QUEUE_OPTIONS);
      await channel.consume(queue, () => void deliveries++);
      gateway = await startGateway(queue, { rpcMaxInFlight: 2, rpcTimeoutMs: 3000 });
      await gateway.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(gateway.getHttpServer().address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await gateway.close();
      await broker.close();
      await deleteQueues(queue);
    });

    it('hands the RPC client a signal aborted when the caller disconnects, not when it is answered', async () => {
      const client = gateway.get(RpcClient);
      const send = jest.spyOn(client, 'send');
      try {
        const caller = new AbortController();
        const leaving = fetch(`${base}/fib/5`, { signal: caller.signal }).catch((error: Error) => error.name);
        await waitFor(() => send.mock.calls.length === 1, 2000, 'the first call');
        const answered = fetch(`${base}/fib/6`, { signal: AbortSignal.timeout(10_000) });
        await waitFor(() => send.mock.calls.length === 2, 2000, 'the second call');
        const [first, second] = send.mock.calls.map(([, options]) => (options as { signal?: AbortSignal }).signal);
        expect(first?.aborted).toBe(false);
        caller.abort();
        await expect(leaving).resolves.toBe('AbortError');
        await waitFor(() => first?.aborted === true, 1000, 'the leaving caller’s signal');
        expect((await answered).status).toBe(504);
        expect(second?.aborted).toBe(false);
      } finally {
        send.mockRestore();
        // Without cancellation support in the client, the first call holds its slot until its deadline.
        await waitFor(() => client.pendingCount === 0, 5000, 'no pending calls');
      }
    });

    it('frees their in-flight slots at once: the next call is not OVERLOADED; counted as CANCELLED', async () => {
      const client = gateway.get(RpcClient);
      const before = await (await fetch(`${base}/metrics`)).text();
      const delivered = deliveries;
      const callers = [new AbortController(), new AbortController()];
      const calls = callers.map((caller, n) =>
        fetch(`${base}/fib/${n + 1}`, { signal: caller.signal }).then(
          (res) => `answered ${res.status}`,
          (error: Error) => error.name,
        ),
      );
      await waitFor(
        () => client.pendingCount === 2 && deliveries === delivered + 2,
        2000,
        'two calls held by the silent worker',
      );
      for (const caller of callers) caller.abort();
      await expect(Promise.all(calls)).resolves.toEqual(['AbortError', 'AbortError']);

      // Well before the 3 s deadline that would otherwise free them.
      const abortedAt = Date.now();
      await waitFor(() => client.pendingCount === 0, 1000, 'the cancelled calls to leave the pending map');
      expect(Date.now() - abortedAt).toBeLessThan(1000);

      const third = await fetch(`${base}/fib/3`, { signal: AbortSignal.timeout(10_000) });
      const body = (await third.json()) as { code?: string };
      expect(third.status).toBe(504);
      expect(body.code).toBe('TIMEOUT');
      expect(deliveries).toBe(delivered + 3);

      const after = await (await fetch(`${base}/metrics`)).text();
      const delta = (series: string): number => sample(after, series) - sample(before, series);
      expect(delta('fib_gateway_rpc_calls_total{outcome="CANCELLED"}')).toBe(2);
      expect(delta('fib_gateway_rpc_calls_total{outcome="OVERLOADED"}')).toBe(0);
      expect(delta('fib_gateway_rpc_calls_total{outcome="TIMEOUT"}')).toBe(1);
      // The late (here: absent) replies of cancelled calls must not resurrect anything.
      await sleep(100);
      expect(client.pendingCount).toBe(0);
    });
  });
});
