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
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { AppProcess } from '../test/support/app-process';
import { AMQP_URL, deleteQueues, uniqueQueue, waitFor } from '../test/support/broker';
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
  /** CPU µs per answered request of the load generator (autocannon runs in this process). */
  loadgen: number;
}

/**
 * BENCH_COMPARE_GATEWAY: another build's gateway main.js (e.g. main's, built in a copy of the tree), run as one
 * more row against the same worker build, to measure a change before/after in one interleaved run.
 */
const COMPARE_GATEWAY = process.env.BENCH_COMPARE_GATEWAY;

interface Stack {
  name: 'hand-written' | 'ours' | 'ours, compared build' | 'bare Fastify';
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

async function startOurs(type: RpcQueueType, prefetch: number, compare = false): Promise<Stack> {
  const queue = uniqueQueue(`bench-gwh-${type}-${compare ? 'compare' : 'ours'}`);
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
  const gateway = compare
    ? new ScriptProcess(COMPARE_GATEWAY as string, { ...common, PORT: String(port) })
    : new AppProcess('gateway', { ...common, PORT: String(port) }, [], { stdout: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const stop = async (): Promise<void> => {
    gateway.signal('SIGTERM');
    worker.signal('SIGTERM');
    await Promise.all([gateway.exited, worker.exited]);
    await deleteQueues(queue);
  };
  // Generous: on a loaded machine, Nest apps take seconds to start.
  await waitFor(
    async () => {
      const res = await fetch(`${url}/health`).catch(() => undefined);
      const body = (await res?.json().catch(() => undefined)) as
        { info?: { broker?: { workers?: number } } } | undefined;
      return (body?.info?.broker?.workers ?? 0) > 0 || !gateway.running || !worker.running;
    },
    30_000,
    'our gateway to see our worker',
  ).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return {
    name: compare ? 'ours, compared build' : 'ours',
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
    stop,
  };
}

/** A gateway build outside dist/, run as AppProcess runs the built apps (same environment, stdout discarded). */
class ScriptProcess {
  readonly exited: Promise<unknown>;
  private readonly child: ChildProcess;

  constructor(main: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
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
  const loadgenBefore = process.cpuUsage();
  const result = await autocannon({
    url: `${stack.url}/fib/30`,
    connections: CONNECTIONS,
    duration: seconds,
    expectBody: BODY,
  });
  const after = pids.map(cpuMs);
  const loadgen = process.cpuUsage(loadgenBefore);
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
    loadgen: (loadgen.user + loadgen.system) / answered,
  };
}

export async function benchHandGateway(
  reps: number,
  prefetch: number,
  check: (ok: boolean, what: string) => void,
): Promise<HandGatewayResult> {
  const stacks: Stack[] = [];
  const runs = new Map<Stack, Run[]>();
  let bare: Stack | undefined;
  try {
    for (const type of TYPES) {
      stacks.push(await startHand(type, prefetch), await startOurs(type, prefetch));
      if (COMPARE_GATEWAY !== undefined) stacks.push(await startOurs(type, prefetch, true));
    }
    bare = await startBare();
    for (const stack of [...stacks, bare]) runs.set(stack, []);
    for (const stack of [...stacks, bare]) await load(stack, 3, check); // warm-up
    for (let rep = 0; rep < reps; rep++) {
      for (const type of TYPES) {
        const group = stacks.filter((s) => s.type === type);
        // Alternate which goes first, so a drift of the machine does not always favour the same one.
        for (const stack of rep % 2 === 0 ? group : [...group].reverse()) {
          runs.get(stack)?.push(await load(stack, SECONDS, check));
          const drops = await stack.drops();
          check(drops === 0, `${type} ${stack.name}: ${drops} link drops or reconnects in /metrics`);
        }
      }
      runs.get(bare)?.push(await load(bare, SECONDS, check));
    }
  } finally {
    for (const stack of stacks) await stack.stop();
    await bare?.stop();
  }

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
    const of = (name: Stack['name']): Run[] | undefined => {
      const stack = stacks.find((s) => s.type === type && s.name === name);
      return stack === undefined ? undefined : runs.get(stack);
    };
    const hand = of('hand-written') as Run[];
    const perRep = (series: Run[], pick: (r: Run) => number): number[] => series.map((r, i) => pick(r) / pick(hand[i]));
    const ours = of('ours') as Run[];
    ratios[type] = {
      rate: median(perRep(ours, (r) => r.reqPerSec)),
      cpu: median(perRep(ours, (r) => r.cpu[0])),
    };
    const rows: [string, Run[] | undefined][] = [
      ['hand-written', hand],
      ['ours (defaults)', ours],
      [`ours, ${COMPARE_GATEWAY ?? ''} (defaults)`, of('ours, compared build')],
    ];
    for (const [name, series] of rows) {
      if (series === undefined) continue;
      const rates = series.map((r) => r.reqPerSec);
      const rateRatios = perRep(series, (r) => r.reqPerSec);
      const cpuRatios = perRep(series, (r) => r.cpu[0]);
      const cpu3 = [0, 1, 2].map((i) => median(series.map((r) => r.cpu[i])).toFixed(0)).join(' / ');
      const shown = (xs: number[]): string =>
        series === hand ? '1.00' : `**${median(xs).toFixed(2)}** (${spread(xs, 2)})`;
      lines.push(
        `| ${type} | ${name} | ${fmt(median(rates))} (${spread(rates)}) | ${shown(rateRatios)} | ${median(series.map((r) => r.p50))} | ${median(series.map((r) => r.p99))} | ${cpu3} | ${shown(cpuRatios)} |`,
      );
    }
  }
  lines.push('', ...ceilingLines(stacks, runs, runs.get(bare as Stack) as Run[]));
  return { lines: [...lines, ''], ratios };
}

/**
 * Everything shares two cores, so req/s follows the CPU all processes spend per request (gateway, worker, broker,
 * load generator). From the same runs: the ratio that model predicts (hand-written total ÷ ours total, per rep),
 * next to the measured one; and the ratio ours would reach if our gateway cost no CPU at all. The latter bounds
 * what any work on the gateway alone can give on this machine.
 */
function ceilingLines(stacks: Stack[], runs: Map<Stack, Run[]>, bare: Run[]): string[] {
  const total = (r: Run): number => r.cpu[0] + r.cpu[1] + r.cpu[2] + r.loadgen;
  const lines = [
    'Throughput follows CPU: everything shares the two cores. CPU µs per request of all four processes (gateway + worker + broker + load generator), ' +
      'the ours ÷ hand-written req/s ratio that predicts (hand-written total ÷ ours total), the ratio measured, and the ratio ours would reach **if our gateway cost no CPU at all** ' +
      '(hand-written total ÷ ours without its gateway): no work on the gateway alone can go beyond it here.',
    '',
    '| queue type | CPU µs/req, all four: hand-written / ours (load generator) | predicted ours ÷ hand-written | measured | with our gateway at 0 µs |',
    '| --- | --- | --- | --- | --- |',
  ];
  const gatewayBudget: string[] = [];
  for (const type of TYPES) {
    const hand = runs.get(stacks.find((s) => s.type === type && s.name === 'hand-written') as Stack) as Run[];
    const ours = runs.get(stacks.find((s) => s.type === type && s.name === 'ours') as Stack) as Run[];
    const perRep = (f: (h: Run, o: Run) => number): number[] => ours.map((o, i) => f(hand[i], o));
    const predicted = perRep((h, o) => total(h) / total(o));
    const measured = perRep((h, o) => o.reqPerSec / h.reqPerSec);
    const ceiling = perRep((h, o) => total(h) / (total(o) - o.cpu[0]));
    const show = (xs: number[]): string => `${median(xs).toFixed(2)} (${spread(xs, 2)})`;
    const budget = perRep((h, o) => total(h) / 1.3 - (total(o) - o.cpu[0]));
    gatewayBudget.push(`${median(budget).toFixed(0)} µs (${type})`);
    lines.push(
      `| ${type} | ${median(hand.map(total)).toFixed(0)} / ${median(ours.map(total)).toFixed(0)} (${median(hand.map((r) => r.loadgen)).toFixed(0)} / ${median(ours.map((r) => r.loadgen)).toFixed(0)}) | ${show(predicted)} | ${show(measured)} | **${show(ceiling)}** |`,
    );
  }
  lines.push(
    '',
    `By the same model, 1.3× leaves our gateway ${gatewayBudget.join(', ')} of CPU per request. For scale, bare Fastify answering a constant ` +
      `\`{ n, value }\` (\`bench/baseline/bare-fastify.js\`: no broker, no Nest, no logging), loaded the same way each repetition: ` +
      `${median(bare.map((r) => r.cpu[0])).toFixed(0)} µs per request (${spread(
        bare.map((r) => r.cpu[0]),
        0,
      )}) at ${fmt(median(bare.map((r) => r.reqPerSec)))} req/s.`,
  );
  return lines;
}

/** bench/baseline/bare-fastify.js: an HTTP floor, not a gateway (its worker and broker figures mean nothing). */
async function startBare(): Promise<Stack> {
  const { child, output } = await startProcess([join(ROOT, 'bench/baseline/bare-fastify.js')], { PORT: '0' });
  return {
    name: 'bare Fastify',
    type: 'classic',
    url: (/listening on (\S+)/.exec(output) as RegExpExecArray)[1],
    gatewayPid: child.pid as number,
    workerPid: child.pid as number,
    drops: () => Promise.resolve(0),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
