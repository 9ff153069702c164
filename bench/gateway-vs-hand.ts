/**
 * Section 7 of `npm run bench` (BENCH_ONLY=hand-gateway): our gateway and
 * worker at default settings (LOG_LEVEL=info, publisher confirms, direct
 * reply-to, deadlines, cancellation, flow control, metrics) against a
 * hand-written gateway (bench/baseline/http-gateway.js: Fastify + raw
 * amqplib, the tutorial's client) calling the tutorial-style server, on a
 * request queue of the same type, for quorum and classic queues. Runs are
 * interleaved; CPU per request is read from /proc for each process (gateway,
 * worker, broker) before and after each run.
 */
import { RpcQueueType } from '@app/contracts';
import autocannon from 'autocannon';
import { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { AppProcess } from '../test/support/app-process';
import { AMQP_URL, consumerCount, deleteQueues, uniqueQueue, waitFor } from '../test/support/broker';
import { sample } from '../test/support/metrics';
import { brokerPid, cpuMs, declareQueue, fmt, freePort, median, ROOT, spread, startProcess } from './bench-support';

const TYPES: readonly RpcQueueType[] = ['quorum', 'classic'];
const SECONDS = Number(process.env.BENCH_GW_SECONDS ?? 8);
const CONNECTIONS = 100;
const BODY = JSON.stringify({ n: 30, value: '832040' });
/** Counters that must not move under healthy load: a link dropped or reconnected is a spurious drop. */
const GATEWAY_DROPS = [
  'fib_gateway_broker_silent_link_drops_total',
  'fib_gateway_broker_refused_link_drops_total',
  'fib_gateway_broker_reconnects_total',
];
const WORKER_DROPS = ['fib_worker_broker_silent_link_drops_total'];

interface Run {
  reqPerSec: number;
  p50: number;
  p99: number;
  /** CPU µs per answered request: gateway, worker (server), broker. */
  cpu: [number, number, number];
}

interface Stack {
  name: 'hand-written' | 'ours';
  type: RpcQueueType;
  url: string;
  gatewayPid: number;
  workerPid: number;
  /** Link drops seen in /metrics (ours only). */
  drops(): Promise<number>;
  stop(): Promise<void>;
}

export interface HandGatewayResult {
  lines: string[];
  /** Per queue type: median of per-rep ratios ours ÷ hand-written, req/s and gateway CPU per request. */
  ratios: Record<string, { rate: number; cpu: number }>;
}

async function metricsOf(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

async function startOurs(type: RpcQueueType, prefetch: number): Promise<Stack> {
  const queue = uniqueQueue(`bench-gwh-${type}-ours`);
  await declareQueue(queue, type);
  const workerPort = await freePort();
  const port = await freePort();
  // Defaults everywhere (LOG_LEVEL=info); lines go to /dev/null as to a collector.
  const common = { AMQP_URL, RPC_QUEUE: queue, RPC_QUEUE_TYPE: type, LOG_LEVEL: 'info' };
  const worker = new AppProcess(
    'fib-worker',
    { ...common, WORKER_PREFETCH: String(prefetch), WORKER_HTTP_PORT: String(workerPort) },
    [],
    { stdout: 'ignore' },
  );
  await waitFor(async () => (await consumerCount(queue)) > 0 || !worker.running, 10_000, 'our worker to consume');
  const gateway = new AppProcess('gateway', { ...common, PORT: String(port) }, [], { stdout: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  await waitFor(
    async () => {
      const res = await fetch(`${url}/health`).catch(() => undefined);
      const body = (await res?.json().catch(() => undefined)) as
        { info?: { broker?: { workers?: number } } } | undefined;
      return (body?.info?.broker?.workers ?? 0) > 0 || !gateway.running;
    },
    15_000,
    'our gateway to see the worker',
  );
  return {
    name: 'ours',
    type,
    url,
    gatewayPid: gateway.pid,
    workerPid: worker.pid,
    drops: async () => {
      const [g, w] = [await metricsOf(url), await metricsOf(workerUrl)];
      return [...GATEWAY_DROPS.map((s) => sample(g, s)), ...WORKER_DROPS.map((s) => sample(w, s))].reduce(
        (a, b) => a + b,
      );
    },
    stop: async () => {
      gateway.signal('SIGTERM');
      worker.signal('SIGTERM');
      await Promise.all([gateway.exited, worker.exited]);
      await deleteQueues(queue);
    },
  };
}

async function startHand(type: RpcQueueType, prefetch: number): Promise<Stack> {
  const queue = uniqueQueue(`bench-gwh-${type}-hand`);
  await declareQueue(queue, type);
  const { child: server } = await startProcess([join(ROOT, 'bench/baseline/rpc-server.js')], {
    AMQP_URL,
    RPC_QUEUE: queue,
    RPC_QUEUE_TYPE: type,
    PREFETCH: String(prefetch),
  });
  const { child: gateway, output } = await startProcess([join(ROOT, 'bench/baseline/http-gateway.js')], {
    AMQP_URL,
    RPC_QUEUE: queue,
    PORT: '0',
  });
  const stopChild = (child: ChildProcess): Promise<unknown> =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(undefined);
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return {
    name: 'hand-written',
    type,
    url: (/listening on (\S+)/.exec(output) as RegExpExecArray)[1],
    gatewayPid: gateway.pid as number,
    workerPid: server.pid as number,
    drops: () => Promise.resolve(0),
    stop: async () => {
      await Promise.all([stopChild(gateway), stopChild(server)]);
      await deleteQueues(queue);
    },
  };
}

async function load(stack: Stack, seconds: number, check: (ok: boolean, what: string) => void): Promise<Run> {
  const pids = [stack.gatewayPid, stack.workerPid, brokerPid];
  const before = pids.map(cpuMs);
  const result = await autocannon({
    url: `${stack.url}/fib/30`,
    connections: CONNECTIONS,
    duration: seconds,
    expectBody: BODY,
  });
  const after = pids.map(cpuMs);
  const answered = result.requests.total;
  check(
    result.mismatches === 0 && result.non2xx === 0 && result.errors === 0 && result.timeouts === 0,
    `${stack.type} ${stack.name}: ${result.mismatches} wrong bodies, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
  );
  const perRequest = (i: number): number => ((after[i] - before[i]) * 1000) / answered;
  return {
    reqPerSec: answered / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: [perRequest(0), perRequest(1), perRequest(2)],
  };
}

export async function benchHandGateway(
  reps: number,
  prefetch: number,
  check: (ok: boolean, what: string) => void,
): Promise<HandGatewayResult> {
  const stacks: Stack[] = [];
  for (const type of TYPES) stacks.push(await startHand(type, prefetch), await startOurs(type, prefetch));
  const runs = new Map<Stack, Run[]>(stacks.map((s) => [s, []]));
  for (const stack of stacks) await load(stack, 3, check); // warm-up
  for (let rep = 0; rep < reps; rep++) {
    for (const type of TYPES) {
      const pair = stacks.filter((s) => s.type === type);
      // Alternate which goes first, so a drift of the machine does not always favour the same one.
      for (const stack of rep % 2 === 0 ? pair : [...pair].reverse()) {
        runs.get(stack)?.push(await load(stack, SECONDS, check));
        const drops = await stack.drops();
        check(drops === 0, `${type} ${stack.name}: ${drops} link drops or reconnects in /metrics`);
      }
    }
  }
  for (const stack of stacks) await stack.stop();

  const lines = [
    `### 7. Our gateway against a hand-written gateway: autocannon, ${CONNECTIONS} connections, ${SECONDS} s, GET /fib/30, ${reps} interleaved repetitions`,
    '',
    'Hand-written = `bench/baseline/http-gateway.js` (Fastify + raw amqplib as in the tutorial: callback queue, correlation ids in a Map, a timeout per call; ' +
      'no Nest, no logging, no metrics) calling `bench/baseline/rpc-server.js`. Ours = `dist/apps/gateway` + `dist/apps/fib-worker` at default settings: ' +
      'LOG_LEVEL=info (one JSON line per request on each side, to /dev/null), publisher confirms, direct reply-to, deadlines, cancellation, flow control, metrics. ' +
      'Each pair on a request queue of its own of the type named. CPU µs per answered request, from /proc before and after each run (10 ms ticks); ' +
      'the broker figure is the whole shared node. Every body checked; /metrics link drops and reconnects checked to be 0 after every run of ours.',
    '',
    '| queue type | gateway | req/s (median, min–max) | ours ÷ hand-written, per rep (median, min–max) | p50 ms | p99 ms | CPU µs/req gateway / worker / broker | gateway CPU ÷ hand-written, per rep |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ratios: HandGatewayResult['ratios'] = {};
  for (const type of TYPES) {
    const [hand, ours] = [
      stacks.find((s) => s.type === type && s.name === 'hand-written'),
      stacks.find((s) => s.type === type && s.name === 'ours'),
    ].map((s) => runs.get(s as Stack) as Run[]);
    const rateRatios = ours.map((r, i) => r.reqPerSec / hand[i].reqPerSec);
    const cpuRatios = ours.map((r, i) => r.cpu[0] / hand[i].cpu[0]);
    ratios[type] = { rate: median(rateRatios), cpu: median(cpuRatios) };
    for (const [name, series, rate, cpu] of [
      ['hand-written', hand, '1.00', '1.00'],
      [
        'ours (defaults)',
        ours,
        `**${median(rateRatios).toFixed(2)}** (${spread(rateRatios, 2)})`,
        `**${median(cpuRatios).toFixed(2)}** (${spread(cpuRatios, 2)})`,
      ],
    ] as const) {
      const rates = series.map((r) => r.reqPerSec);
      const cpu3 = [0, 1, 2].map((i) => median(series.map((r) => r.cpu[i])).toFixed(0)).join(' / ');
      lines.push(
        `| ${type} | ${name} | ${fmt(median(rates))} (${spread(rates)}) | ${rate} | ${median(series.map((r) => r.p50))} | ${median(series.map((r) => r.p99))} | ${cpu3} | ${cpu} |`,
      );
    }
  }
  return { lines: [...lines, ''], ratios };
}
