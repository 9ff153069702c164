import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { deleteQueues, uniqueQueue, waitFor } from '../support/broker';
import { startWorker } from '../support/apps';
import { AppProcess } from '../support/app-process';
import { httpGet, tally } from '../support/http';
import { sample } from '../support/metrics';
import { TcpProxy } from '../support/tcp-proxy';
import { TutorialServer } from '../support/tutorial-peers';

/** The gateway's broker connection is cut (through a proxy; the shared broker keeps running). */
describe('gateway loses the broker (fault)', () => {
  const queue = uniqueQueue('gw-loss');
  let proxy: TcpProxy;
  let slowServer: TutorialServer;
  let gateway: AppProcess;
  let url: string;
  let worker: NestFastifyApplication | undefined;

  beforeAll(async () => {
    proxy = await TcpProxy.start();
    slowServer = await TutorialServer.start(queue, { delayMs: 3000 });
    gateway = new AppProcess('gateway', { AMQP_URL: proxy.url, RPC_QUEUE: queue, RPC_TIMEOUT_MS: '8000' });
    url = await gateway.httpUrl();
    await waitFor(async () => (await httpGet(`${url}/health`)).status === 200, 10_000, 'gateway health');
  });

  afterAll(async () => {
    await gateway.stop();
    await worker?.close();
    await slowServer.stop();
    await proxy.cut();
    await deleteQueues(queue);
  });

  it('fails every pending call at once with 503 when the connection drops', async () => {
    const calls = Array.from({ length: 10 }, (_, i) => httpGet(`${url}/fib/${i + 1}`));
    await waitFor(
      async () => (await httpGet(`${url}/health`)).body.info?.broker?.pending === 10,
      5000,
      'ten calls pending at the gateway',
    );
    const cutAt = Date.now();
    await proxy.cut();
    const answers = await Promise.all(calls);
    expect(tally(answers)).toEqual({ '503 CONNECTION_LOST': 10 });
    expect(Date.now() - cutAt).toBeLessThan(1000);
    for (const answer of answers) expect(answer.headers.get('retry-after')).toBe('1');
  });

  it('fails new calls fast while disconnected, and /health says 503', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => httpGet(`${url}/fib/10`)));
    expect(tally(answers)).toEqual({ '503 BROKER_UNAVAILABLE': 5 });
    for (const answer of answers) expect(answer.ms).toBeLessThan(300);
    const health = await httpGet(`${url}/health`);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'error', error: { broker: { status: 'down' } } });
  });

  it('reconnects by itself, re-creates its reply path and serves again', async () => {
    await slowServer.stop();
    worker = (await startWorker(queue)).app;
    await proxy.restore();
    await waitFor(async () => (await httpGet(`${url}/health`)).status === 200, 10_000, 'health back to 200');
    await waitFor(async () => (await httpGet(`${url}/fib/30`)).status === 200, 5000, 'service back');
    const answer = await httpGet(`${url}/fib/30`);
    expect(answer.body).toEqual({ n: 30, value: '832040' });
    expect(gateway.output).toMatch(/link to amqp:\/\/127\.0\.0\.1:\d+\/ lost \(.*\); reconnecting/);
    expect(gateway.output).toMatch(/no broker node reachable: \d+ call\(s\) waiting for a link failed/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(sample(metrics, 'fib_gateway_broker_reconnects_total')).toBe(1);
    expect(sample(metrics, 'fib_gateway_rpc_calls_total{outcome="CONNECTION_LOST"}')).toBe(10);
    expect(sample(metrics, 'fib_gateway_rpc_calls_total{outcome="BROKER_UNAVAILABLE"}')).toBeGreaterThanOrEqual(5);
  });
});
