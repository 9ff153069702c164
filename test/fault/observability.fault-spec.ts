import { AMQP_URL, deleteQueues, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { httpGet } from '../support/http';
import { TcpProxy } from '../support/tcp-proxy';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Logs and worker health, from the built apps' own output and ports. */
describe('logs and worker health (fault)', () => {
  const queue = uniqueQueue('obs');
  let proxy: TcpProxy;
  let worker: AppProcess;
  let gateway: AppProcess;
  let gatewayUrl: string;
  let workerUrl: string;

  beforeAll(async () => {
    proxy = await TcpProxy.start();
    worker = new AppProcess('fib-worker', { AMQP_URL: proxy.url, RPC_QUEUE: queue });
    workerUrl = (await worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/))[1];
    gateway = new AppProcess('gateway', { AMQP_URL, RPC_QUEUE: queue });
    gatewayUrl = await gateway.httpUrl();
    await waitFor(async () => (await httpGet(`${gatewayUrl}/fib/1`)).status === 200, 10_000, 'service');
  });

  afterAll(async () => {
    await gateway.stop();
    await worker.stop();
    await proxy.cut();
    await deleteQueues(queue);
  });

  it('one JSON line per request on each side, joined by request id and correlation id', async () => {
    const res = await fetch(`${gatewayUrl}/fib/30`, {
      headers: { 'X-Request-Id': 'trace-me-1', traceparent: TRACEPARENT },
    });
    expect(res.headers.get('x-request-id')).toBe('trace-me-1');
    await waitFor(
      () =>
        jsonLines(gateway.output).some((l) => l.requestId === 'trace-me-1') &&
        jsonLines(worker.output).some((l) => l.requestId === 'trace-me-1'),
      5000,
      'both log lines',
    );
    const gw = jsonLines(gateway.output).filter((l) => l.requestId === 'trace-me-1');
    const wk = jsonLines(worker.output).filter((l) => l.requestId === 'trace-me-1');
    expect(gw).toHaveLength(1);
    expect(wk).toHaveLength(1);
    expect(gw[0]).toMatchObject({
      app: 'gateway',
      method: 'GET',
      url: '/fib/30',
      statusCode: 200,
      n: 30,
      outcome: 'ok',
      traceparent: TRACEPARENT,
    });
    expect(typeof gw[0].durationMs).toBe('number');
    expect(wk[0]).toMatchObject({
      app: 'fib-worker',
      n: '30',
      outcome: 'ok',
      traceparent: TRACEPARENT,
      correlationId: gw[0].correlationId,
    });
    expect(typeof wk[0].durationMs).toBe('number');
  });

  it('worker /health is 200 while consuming, 503 while its broker connection is cut, 200 again after', async () => {
    expect((await httpGet(`${workerUrl}/health`)).status).toBe(200);
    await proxy.cut();
    await waitFor(async () => (await httpGet(`${workerUrl}/health`)).status === 503, 5000, 'health 503');
    const down = await httpGet(`${workerUrl}/health`);
    expect(down.body).toMatchObject({ status: 'error', error: { rpcQueue: { status: 'down' } } });
    await proxy.restore();
    await waitFor(async () => (await httpGet(`${workerUrl}/health`)).status === 200, 10_000, 'health 200');
  });
});
