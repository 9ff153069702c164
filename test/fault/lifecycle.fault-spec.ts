import { AddressInfo, createServer } from 'node:net';
import { AMQP_URL, deleteQueues, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { httpGet, httpGetOnNewConnection, tally } from '../support/http';
import { TcpProxy } from '../support/tcp-proxy';
import { sample } from '../support/metrics';
import { TutorialServer } from '../support/tutorial-peers';

/** Start-up without a broker, bad configuration, and graceful shutdown of the built apps. */
describe('app lifecycle (fault)', () => {
  const processes: AppProcess[] = [];
  const queues: string[] = [];

  afterAll(async () => {
    for (const app of processes) await app.stop();
    await deleteQueues(...queues);
  });

  it('starts without a broker, says where it tries, answers 503, and connects once the broker is there', async () => {
    const proxy = await TcpProxy.start();
    await proxy.cut();
    const gateway = new AppProcess('gateway', { AMQP_URL: proxy.url, RPC_QUEUE: uniqueQueue('gw-nobroker') });
    processes.push(gateway);
    const url = await gateway.httpUrl();
    // Where it tries, without credentials (the node as amqp://host:port/vhost), and why.
    await gateway.waitForOutput(new RegExp(`cannot connect to amqp://127\\.0\\.0\\.1:${proxy.port}/: .*ECONNREFUSED`));
    expect(gateway.output).not.toMatch(/guest:/);
    expect((await httpGet(`${url}/health`)).status).toBe(503);
    const answer = await httpGet(`${url}/fib/5`);
    expect(answer.status).toBe(503);
    expect(answer.ms).toBeLessThan(300);
    expect(gateway.running).toBe(true);
    await proxy.restore();
    await waitFor(async () => (await httpGet(`${url}/health`)).status === 200, 10_000, 'health 200');
    await proxy.cut();
  });

  it('a worker also starts without a broker, says where it tries, and consumes once the broker is there', async () => {
    const proxy = await TcpProxy.start();
    await proxy.cut();
    const queue = uniqueQueue('w-nobroker');
    queues.push(queue);
    const worker = new AppProcess('fib-worker', { AMQP_URL: proxy.url, RPC_QUEUE: queue });
    processes.push(worker);
    const healthUrl = `${(await worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/))[1]}/health`;
    await worker.waitForOutput(new RegExp(`cannot connect to amqp://127\\.0\\.0\\.1:${proxy.port}/: .*ECONNREFUSED`));
    expect((await httpGet(healthUrl)).status).toBe(503);
    expect(worker.running).toBe(true);
    await proxy.restore();
    await worker.waitForOutput(/consuming /);
    await waitFor(async () => (await httpGet(healthUrl)).status === 200, 10_000, 'worker health 200');
    await proxy.cut();
  });

  it('gateway exits 1 with one line when its HTTP port is taken', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '0.0.0.0', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const gateway = new AppProcess('gateway', { AMQP_URL, RPC_QUEUE: uniqueQueue('gw-port'), PORT: String(port) });
      processes.push(gateway);
      expect(await gateway.exited).toEqual({ code: 1, signal: null });
      expect(gateway.output).toMatch(/^start failed: listen EADDRINUSE.*$/m);
    } finally {
      holder.close();
    }
  });

  it.each(['gateway', 'fib-worker', 'cli'] as const)('%s exits 1 with one line naming a bad variable', async (name) => {
    const app = new AppProcess(name, { RPC_TIMEOUT_MS: 'soon' }, ['5']);
    processes.push(app);
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.output).toBe(
      'configuration error: invalid RPC_TIMEOUT_MS="soon": expected an integer from 1 to 2147483647\n',
    );
  });

  it('on SIGTERM stops accepting, lets pending calls finish, and exits 0', async () => {
    const queue = uniqueQueue('gw-term');
    queues.push(queue);
    const server = await TutorialServer.start(queue, { delayMs: 200 });
    const gateway = new AppProcess('gateway', { AMQP_URL, RPC_QUEUE: queue, RPC_TIMEOUT_MS: '5000' });
    processes.push(gateway);
    try {
      const url = await gateway.httpUrl();
      await waitFor(async () => (await httpGet(`${url}/health`)).status === 200, 10_000, 'health 200');
      const calls = Array.from({ length: 8 }, (_, i) => httpGet(`${url}/fib/${i + 10}`));
      // All 8 accepted and pending before the signal: a request still in flight on the wire would be refused, rightly.
      await waitFor(
        async () => sample(await (await fetch(`${url}/metrics`)).text(), 'fib_gateway_rpc_pending_calls') === 8,
        5000,
        'eight pending calls',
      );
      gateway.signal('SIGTERM');
      const answers = await Promise.all(calls);
      expect(tally(answers)).toEqual({ '200': 8 });
      expect(answers.map((a) => a.body.n as number)).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
      await expect(httpGet(`${url}/health`, 1000)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });

  it('while it drains, refuses new requests at once and still answers the pending one', async () => {
    const queue = uniqueQueue('gw-drain');
    queues.push(queue);
    const server = await TutorialServer.start(queue, { delayMs: 1500 });
    const gateway = new AppProcess('gateway', { AMQP_URL, RPC_QUEUE: queue, RPC_TIMEOUT_MS: '5000' });
    processes.push(gateway);
    try {
      const url = await gateway.httpUrl();
      await waitFor(async () => (await httpGet(`${url}/health`)).status === 200, 10_000, 'health 200');
      const pending = httpGet(`${url}/fib/20`);
      await waitFor(() => server.received === 1, 5000, 'the request at the server');
      gateway.signal('SIGTERM');
      await gateway.waitForOutput(/SIGTERM: closing/);
      // The pending call still has ~1.4 s to go: a new request now must be refused, not queued behind the drain.
      const started = Date.now();
      const late = await httpGetOnNewConnection(`${url}/fib/21`, 5000).then(
        (status) => String(status),
        (error: NodeJS.ErrnoException) => error.code ?? error.message,
      );
      expect({ late, fast: Date.now() - started < 1000 }).toEqual({
        late: expect.stringMatching(/^(ECONNREFUSED|ECONNRESET|503)$/),
        fast: true,
      });
      expect(server.received).toBe(1);
      const answer = await pending;
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { n: 20, value: '6765' } });
      expect(await gateway.exited).toEqual({ code: 0, signal: null });
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['gateway', 'SIGINT'],
    ['fib-worker', 'SIGINT'],
    ['fib-worker', 'SIGTERM'],
  ] as const)('%s on %s closes and exits 0, not by the signal', async (name, signal) => {
    const queue = uniqueQueue(`sig-${name}`);
    queues.push(queue);
    const app = new AppProcess(name, { AMQP_URL, RPC_QUEUE: queue });
    processes.push(app);
    if (name === 'gateway') {
      const url = await app.httpUrl();
      await waitFor(async () => (await httpGet(`${url}/health`)).status === 200, 10_000, 'health 200');
    } else {
      await app.waitForOutput(/consuming /);
    }
    app.signal(signal);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.output).toContain(`${signal}: closing`);
  });
});
