import { AMQP_URL, deleteQueues, sleep, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { OTLP_KIND, OtlpReceiver } from '../support/otlp-receiver';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const EXPORT_FAILING = /span export to \S+ failing/;

function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The tracing lines an app logged (warnings about export, dropped spans and the like). */
const tracingWarnings = (app: AppProcess): Record<string, unknown>[] =>
  jsonLines(app.output).filter((line) => line.context === 'Tracing' && line.level === 40);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * The built apps as child processes, tracing on through the OTEL_* variables
 * only, exporting OTLP/HTTP JSON to a receiver on loopback; then the
 * receiver down, and hung.
 */
describe('tracing with the built apps and an OTLP receiver (fault)', () => {
  const queue = uniqueQueue('otlp');
  let receiver: OtlpReceiver;
  let worker: AppProcess;
  let gateway: AppProcess;
  let gatewayUrl: string;

  /** `count` calls one after the other; each must be a 200; their durations in ms. */
  async function timedCalls(count: number): Promise<number[]> {
    const durations: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const res = await fetch(`${gatewayUrl}/fib/${20 + (i % 10)}`);
      durations.push(performance.now() - started);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    return durations;
  }

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const env = {
      AMQP_URL,
      RPC_QUEUE: queue,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // batches go out every 100 ms, and an export gives up after 1 s: the test sees trouble quickly
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    };
    // both at once, and with time to spare: loading the SDK adds to a start on a busy machine
    worker = new AppProcess('fib-worker', env);
    gateway = new AppProcess('gateway', env);
    await worker.waitForOutput(/health at/, 30_000);
    gatewayUrl = await gateway.httpUrl(30_000);
    await waitFor(async () => (await fetch(`${gatewayUrl}/fib/1`)).status === 200, 10_000, 'service');
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await worker?.stop();
    await receiver?.stop();
    await deleteQueues(queue);
  });

  it("the spans of both processes arrive and link up into the caller's trace; log lines carry trace_id and span_id", async () => {
    const res = await fetch(`${gatewayUrl}/fib/30`, {
      headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, 'X-Request-Id': 'otlp-1' },
    });
    expect(res.status).toBe(200);
    await waitFor(() => receiver.trace(CALLER_TRACE).length >= 3, 5000, 'three spans at the receiver');
    const spans = receiver.trace(CALLER_TRACE);
    expect(spans).toHaveLength(3);
    const http = spans.find((span) => span.name === 'GET /fib/:n');
    const client = spans.find((span) => span.name === `send ${queue}`);
    const server = spans.find((span) => span.name === `process ${queue}`);
    expect(http).toMatchObject({ service: 'gateway', kind: OTLP_KIND.SERVER, parentSpanId: CALLER_SPAN });
    expect(client).toMatchObject({ service: 'gateway', kind: OTLP_KIND.CLIENT, parentSpanId: http?.spanId });
    expect(server).toMatchObject({ service: 'fib-worker', kind: OTLP_KIND.SERVER, parentSpanId: client?.spanId });
    expect(server?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': queue,
      'messaging.message.conversation_id': client?.attributes['messaging.message.conversation_id'],
      'fib.n': 30,
    });

    await waitFor(
      () =>
        jsonLines(gateway.output).some((l) => l.requestId === 'otlp-1') &&
        jsonLines(worker.output).some((l) => l.requestId === 'otlp-1'),
      5000,
      'both log lines',
    );
    const gw = jsonLines(gateway.output).find((l) => l.requestId === 'otlp-1');
    const wk = jsonLines(worker.output).find((l) => l.requestId === 'otlp-1');
    expect(gw).toMatchObject({ trace_id: CALLER_TRACE, span_id: http?.spanId, url: '/fib/30' });
    expect(wk).toMatchObject({ trace_id: CALLER_TRACE, span_id: server?.spanId, outcome: 'ok' });
  });

  it.each([
    ['stopped (connections refused)', (): Promise<void> => receiver.stop(), (): Promise<void> => receiver.restart()],
    [
      'frozen (requests never answered)',
      (): Promise<void> => Promise.resolve(receiver.freeze()),
      (): Promise<void> => Promise.resolve(receiver.thaw()),
    ],
  ])(
    'receiver %s: calls take no longer and all succeed; each app logs one line about it',
    async (_, fail, heal) => {
      const gatewayBefore = tracingWarnings(gateway).length;
      const workerBefore = tracingWarnings(worker).length;
      const baseline = await timedCalls(60);
      await fail();
      // 3 s of calls: some 30 batches fail to go out, the first after its 1 s export timeout at most
      const during: number[] = [];
      const until = Date.now() + 3000;
      while (Date.now() < until) during.push(...(await timedCalls(10)));
      await waitFor(
        () => tracingWarnings(gateway).length > gatewayBefore && tracingWarnings(worker).length > workerBefore,
        10_000,
        'the export trouble line of each app',
      );
      await sleep(1500);
      const gatewayLines = tracingWarnings(gateway).slice(gatewayBefore);
      const workerLines = tracingWarnings(worker).slice(workerBefore);
      expect(gatewayLines).toHaveLength(1);
      expect(workerLines).toHaveLength(1);
      expect(gatewayLines[0].msg).toMatch(EXPORT_FAILING);
      expect(workerLines[0].msg).toMatch(EXPORT_FAILING);
      // no latency added beyond noise (the machine is shared): the median call within 50 % + 2 ms of before
      process.stdout.write(
        `tracing fault ${_}: median ${median(baseline).toFixed(2)} ms before, ${median(during).toFixed(2)} ms during (${during.length} calls)\n`,
      );
      expect(median(during)).toBeLessThan(median(baseline) * 1.5 + 2);

      await heal();
      const spansBefore = receiver.spans.length;
      await timedCalls(5);
      await waitFor(() => receiver.spans.length > spansBefore, 5000, 'spans arriving again');
      await waitFor(
        () =>
          /span export to \S+ works again/.test(gateway.output) && /span export to \S+ works again/.test(worker.output),
        5000,
        'the recovery lines',
      );
    },
    60_000,
  );
});
