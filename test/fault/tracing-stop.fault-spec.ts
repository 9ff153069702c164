import { AMQP_URL, deleteQueues, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { OtlpReceiver } from '../support/otlp-receiver';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

/**
 * Stopping a traced app: the spans still in the batch go out before it exits
 * (a batch delay of a minute: nothing would go without the stop's flush),
 * and a receiver that hangs does not hold the stop beyond its bound.
 */
describe('tracing when the built apps stop (fault)', () => {
  const queue = uniqueQueue('otlp-stop');
  let receiver: OtlpReceiver;
  let worker: AppProcess | undefined;
  let gateway: AppProcess | undefined;

  async function startApps(): Promise<string> {
    const env = {
      AMQP_URL,
      RPC_QUEUE: queue,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    };
    worker = new AppProcess('fib-worker', env);
    gateway = new AppProcess('gateway', env);
    await worker.waitForOutput(/health at/, 30_000);
    const url = await gateway.httpUrl(30_000);
    await waitFor(async () => (await fetch(`${url}/fib/1`)).status === 200, 10_000, 'service');
    return url;
  }

  /** SIGTERM to both; each must exit 0 within `limitMs`. */
  async function stopApps(limitMs: number): Promise<number> {
    const started = Date.now();
    for (const app of [gateway, worker]) app?.signal('SIGTERM');
    const exits = await Promise.race([
      Promise.all([gateway!.exited, worker!.exited]),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not stopped in ${limitMs} ms`)), limitMs)),
    ]);
    expect(exits.map((exit) => exit.code)).toEqual([0, 0]);
    return Date.now() - started;
  }

  beforeEach(async () => {
    receiver = await OtlpReceiver.start();
  });

  afterEach(async () => {
    await gateway?.stop();
    await worker?.stop();
    await receiver.stop();
  });

  afterAll(() => deleteQueues(queue));

  it("flushes the batched spans of both apps on SIGTERM: the call's three spans arrive", async () => {
    const url = await startApps();
    const res = await fetch(`${url}/fib/30`, { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } });
    expect(res.status).toBe(200);
    expect(receiver.trace(CALLER_TRACE)).toHaveLength(0); // still batched
    await stopApps(15_000);
    expect(
      receiver
        .trace(CALLER_TRACE)
        .map((span) => span.service)
        .sort(),
    ).toEqual(['fib-worker', 'gateway', 'gateway']);
  }, 60_000);

  it('a hung receiver holds the stop for at most a few seconds', async () => {
    const url = await startApps();
    expect((await fetch(`${url}/fib/30`)).status).toBe(200);
    receiver.freeze();
    const tookMs = await stopApps(15_000);
    process.stdout.write(`stop with a hung OTLP receiver: ${tookMs} ms\n`);
    expect(tookMs).toBeLessThan(8000);
  }, 60_000);
});
