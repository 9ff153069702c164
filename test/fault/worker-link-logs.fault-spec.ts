import { deleteQueues, openBroker, TEST_QUEUE_OPTIONS, uniqueQueue } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { frameOf } from '../support/chaos';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * A worker whose link is reset during its queue set-up still says so in its
 * log: its start-up lines, one line per cut, and then that it consumes. Run
 * on the built worker (a child process), through a proxy that resets its
 * first connections after an exact number of bytes from the broker.
 */
describe('worker link loss is always logged (fault)', () => {
  const processes: AppProcess[] = [];
  const proxies: TcpProxy[] = [];
  const queue = uniqueQueue('w-logs');

  beforeAll(async () => {
    // The queue exists, as after a first start: the set-up adopts it with a passive declare on channel 1.
    const connection = await openBroker();
    await (await connection.createChannel()).assertQueue(queue, TEST_QUEUE_OPTIONS);
    await connection.close();
  });

  afterAll(async () => {
    for (const app of processes) await app.stop();
    for (const proxy of proxies) await proxy.cut();
    await deleteQueues(queue);
  });

  function startWorker(url: string): AppProcess {
    const worker = new AppProcess('fib-worker', { AMQP_URL: url, RPC_QUEUE: queue });
    processes.push(worker);
    return worker;
  }

  /** Bytes from the broker up to the end of the request queue's declare-ok on channel 1, measured on a clean start. */
  async function declareOkOffset(): Promise<number> {
    const proxy = await TcpProxy.start();
    proxies.push(proxy);
    const worker = startWorker(proxy.url);
    await worker.waitForOutput(/consuming /, 30_000);
    await worker.stop();
    return frameOf(proxy.traces[0], 'queue.declare-ok', { channel: 1, queue }).end;
  }

  /** The worker's JSON log lines (pino), with the time each was written. */
  function logLines(output: string): { time: number; msg: string }[] {
    return output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { time: number; msg: string });
  }

  it('reset right after queue.declare-ok on its first two connections: each loss is logged when it happens, and the recovery', async () => {
    const bytes = await declareOkOffset();
    const proxy = await TcpProxy.start();
    proxies.push(proxy);
    proxy.faultNext({ afterServerBytes: bytes }, { afterServerBytes: bytes });
    const worker = startWorker(proxy.url);
    await worker.waitForOutput(/consuming /, 30_000);
    await worker.waitForOutput(/worker on .*; health at http/, 30_000);
    const [first, second] = proxy.traces;
    expect([first?.faultedAt, second?.faultedAt].every((at) => at !== undefined)).toBe(true);
    const node = `amqp://127\\.0\\.0\\.1:${proxy.port}/`;
    const lines = logLines(worker.output);
    const losses = lines.filter((line) =>
      new RegExp(`(cannot set up|cannot connect to|link to) ${node}`).test(line.msg),
    );
    const consuming = lines.filter((line) =>
      new RegExp(`consuming ${queue.replace(/\./g, '\\.')} on ${node}`).test(line.msg),
    );
    // Written when they happened, not held back until the first attempt gave up (Nest's bufferLogs).
    const starting = lines.find((line) => /Starting Nest application/.test(line.msg));
    expect(starting).toBeDefined();
    expect(losses.length).toBeGreaterThanOrEqual(1);
    expect(consuming).toHaveLength(1);
    // ms from the first cut to the line about it
    expect(losses[0].time - (first.faultedAt as number)).toBeLessThan(1000);
    expect(losses[0].time).toBeLessThan(consuming[0].time + 1);
  }, 90_000);
});
