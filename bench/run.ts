/**
 * `npm run bench`: every figure measured in this one run, against the local
 * broker, as medians of interleaved repetitions with min–max spread and
 * ratios to a baseline measured alongside. Every answer is checked; a wrong
 * one makes the run invalid (exit 1). Writes bench/results/latest.md too.
 *
 * BENCH_REPS (default 5) sets the repetitions. BENCH_ONLY picks row groups,
 * comma-separated: rpc, queue-types, golevelup, gateway, compute, replicas,
 * hand-gateway, tracing (default: all). hand-gateway (section 7, bench/gateway-vs-hand.ts)
 * and tracing (section 8, bench/tracing-cost.ts) run BENCH_REPS repetitions too, 3 when BENCH_REPS is unset. Every request queue is declared here before its servers
 * start, with RPC_QUEUE_DECLARATIONS: our worker adopts it as it is and the
 * baseline server declares the same type (an identical declaration).
 */
import { encodeFibRequest, RpcQueueType } from '@app/contracts';
import { fib } from '@app/fib';
import { RpcClient } from '@app/rpc-client';
import { CONFIG_DEFAULTS } from '@app/runtime';
import { Logger } from '@nestjs/common';
import autocannon from 'autocannon';
import { ChildProcess, execSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AMQP_URL, consumerCount, deleteQueues, sleep, uniqueQueue, waitFor } from '../test/support/broker';
import { AppProcess } from '../test/support/app-process';
import { benchHandGateway } from './gateway-vs-hand';
import { benchTracing } from './tracing-cost';
import { brokerPid, cpuMs, declareQueue, fmt, freePort, median, ROOT, spread, startProcess } from './bench-support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BaselineClient } = require('./baseline/rpc-client.js') as {
  BaselineClient: {
    open(url: string, queue: string): Promise<{ call(n: number): Promise<string>; close(): Promise<void> }>;
  };
};

const REPS = Number(process.env.BENCH_REPS ?? 5);
const GROUPS = [
  'rpc',
  'queue-types',
  'golevelup',
  'gateway',
  'compute',
  'replicas',
  'hand-gateway',
  'tracing',
] as const;
type Group = (typeof GROUPS)[number];
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? GROUPS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== ''),
);
for (const name of ONLY) {
  if (!(GROUPS as readonly string[]).includes(name))
    throw new Error(`BENCH_ONLY: unknown group ${name}; one of ${GROUPS.join(', ')}`);
}
const runs = (group: Group): boolean => ONLY.has(group);
/** Type of the request queues in every group but "queue-types": the default RPC_QUEUE_TYPE, as today's tutorial declares it. */
const DEFAULT_QUEUE_TYPE: RpcQueueType = 'quorum';
const QUEUE_TYPES: readonly RpcQueueType[] = ['quorum', 'classic', 'transient'];
const PREFETCH = Number(process.env.WORKER_PREFETCH ?? CONFIG_DEFAULTS.workerPrefetch);
const V30 = '832040';
// The apps log at warn here: at info every request adds a JSON line on each side (its cost is its own row).
const APP_LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
Logger.overrideLogger(['error']);

let invalid = 0;
function check(ok: boolean, what: string): void {
  if (!ok) {
    invalid++;
    process.stderr.write(`WRONG ANSWER: ${what}\n`);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface RpcFigures {
  callsPerSec: number;
  p50: number;
  p99: number;
  /** CPU µs per call: caller, server, broker. */
  cpuClient: number;
  cpuServer: number;
  cpuBroker: number;
}

async function rpcRun(
  call: () => Promise<string>,
  serverPid: number,
  concurrency: number,
  total: number,
): Promise<RpcFigures> {
  const latencies = new Float64Array(total);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const server0 = cpuMs(serverPid);
  const broker0 = cpuMs(brokerPid);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = process.hrtime.bigint();
        const value = await call();
        latencies[i] = Number(process.hrtime.bigint() - t) / 1e6;
        if (value !== V30) check(false, `fib(30) = ${value}`);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort();
  return {
    callsPerSec: total / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuClient: (cpu.user + cpu.system) / total,
    cpuServer: ((cpuMs(serverPid) - server0) * 1000) / total,
    cpuBroker: ((cpuMs(brokerPid) - broker0) * 1000) / total,
  };
}

/** The tutorial-style server on `queue`, declaring it as `type`. */
async function startBaselineServer(queue: string, type: RpcQueueType): Promise<ChildProcess> {
  const { child } = await startProcess([join(ROOT, 'bench/baseline/rpc-server.js')], {
    RPC_QUEUE: queue,
    RPC_QUEUE_TYPE: type,
    PREFETCH: String(PREFETCH),
  });
  return child;
}

async function startWorker(
  queue: string,
  prefetch = PREFETCH,
  logLevel = APP_LOG_LEVEL,
  type: RpcQueueType = DEFAULT_QUEUE_TYPE,
): Promise<AppProcess> {
  await declareQueue(queue, type);
  // Log lines go to /dev/null, as to a collector in production: piping them here would load this process.
  const worker = new AppProcess(
    'fib-worker',
    { AMQP_URL, RPC_QUEUE: queue, RPC_QUEUE_TYPE: type, WORKER_PREFETCH: String(prefetch), LOG_LEVEL: logLevel },
    [],
    { stdout: 'ignore' },
  );
  await waitFor(async () => (await consumerCount(queue)) > 0 || !worker.running, 10_000, 'the worker to consume');
  return worker;
}

type Series = Record<string, RpcFigures[]>;

/**
 * Per-repetition ratios of `pick` between two series run side by side in each
 * repetition: on a shared, drifting machine they say more than a ratio of medians.
 */
function paired(runs: RpcFigures[], base: RpcFigures[], pick: (r: RpcFigures) => number): string {
  const ratios = runs.map((r, i) => pick(r) / pick(base[i]));
  return `${median(ratios).toFixed(2)} (${spread(ratios, 2)})`;
}

function rpcTable(title: string, series: Series, baseline: string): string[] {
  const base = series[baseline];
  const lines = [
    `### ${title}`,
    '',
    '| variant | calls/s (median, min–max) | × baseline | × baseline, per rep (median, min–max) | p50 ms | × baseline | p99 ms | CPU µs/call client / server / broker |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, runs] of Object.entries(series)) {
    const rate = runs.map((r) => r.callsPerSec);
    const p50 = median(runs.map((r) => r.p50));
    lines.push(
      `| ${name} | ${fmt(median(rate))} (${spread(rate)}) | ${(median(rate) / median(base.map((r) => r.callsPerSec))).toFixed(2)} | ${paired(runs, base, (r) => r.callsPerSec)} | ${p50.toFixed(3)} | ${(p50 / median(base.map((r) => r.p50))).toFixed(2)} | ${median(runs.map((r) => r.p99)).toFixed(2)} | ${[
        median(runs.map((r) => r.cpuClient)),
        median(runs.map((r) => r.cpuServer)),
        median(runs.map((r) => r.cpuBroker)),
      ]
        .map((x) => x.toFixed(1))
        .join(' / ')} |`,
    );
  }
  return [...lines, ''];
}

async function benchRpc(): Promise<{ lines: string[]; c1: Series; c100: Series }> {
  const queue = uniqueQueue('bench-ours');
  const baseQueue = uniqueQueue('bench-base');
  const worker = await startWorker(queue);
  await declareQueue(baseQueue, DEFAULT_QUEUE_TYPE);
  const baseServer = await startBaselineServer(baseQueue, DEFAULT_QUEUE_TYPE);
  const baseClient = await BaselineClient.open(AMQP_URL, baseQueue);
  const ours = new RpcClient({ url: AMQP_URL, queue, replyMode: 'queue' });
  const oursDirect = new RpcClient({ url: AMQP_URL, queue, replyMode: 'direct' });
  const oursUnconfirmed = new RpcClient({ url: AMQP_URL, queue, replyMode: 'queue', confirmTimeoutMs: 0 });
  await Promise.all([ours.connect(), oursDirect.connect(), oursUnconfirmed.connect()]);
  const body = encodeFibRequest(30);
  const variants: [string, () => Promise<string>, number][] = [
    ['amqplib tutorial-style baseline', () => baseClient.call(30), baseServer.pid as number],
    ['ours: RpcClient (callback queue) + fib-worker', () => ours.call(body), worker.pid],
    ['ours: RpcClient (direct reply-to) + fib-worker', () => oursDirect.call(body), worker.pid],
    [
      'ours: RpcClient (callback queue, no publisher confirms) + fib-worker',
      () => oursUnconfirmed.call(body),
      worker.pid,
    ],
  ];
  const c1: Series = {};
  const c100: Series = {};
  for (const [, call, pid] of variants) await rpcRun(call, pid, 100, 5000); // warm-up
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, call, pid] of variants) {
      (c1[name] ??= []).push(await rpcRun(call, pid, 1, 2000));
      (c100[name] ??= []).push(await rpcRun(call, pid, 100, 30_000));
    }
  }
  await Promise.all([ours.close(), oursDirect.close(), oursUnconfirmed.close(), baseClient.close()]);
  baseServer.kill('SIGTERM');
  worker.signal('SIGTERM');
  await worker.exited;
  await deleteQueues(queue, baseQueue);
  const baseline = variants[0][0];
  return {
    lines: [
      ...rpcTable(`1. RPC, concurrency 1 (latency): fib(30), ${DEFAULT_QUEUE_TYPE} request queues`, c1, baseline),
      ...rpcTable(
        `1. RPC, concurrency 100 (throughput): fib(30), ${DEFAULT_QUEUE_TYPE} request queues`,
        c100,
        baseline,
      ),
    ],
    c1,
    c100,
  };
}

/** Calls per run in the queue-types and golevelup groups (fewer than section 1's: quorum at c=1 is slow on a busy disk). */
const GROUP_C1_CALLS = 1000;
const GROUP_C100_CALLS = 20_000;

const callRate = (r: RpcFigures): number => r.callsPerSec;
const p50Latency = (r: RpcFigures): number => r.p50;

/**
 * What each request queue type costs: for quorum, classic and transient
 * queues, the baseline pair and ours on a queue of that type each, all six
 * interleaved; ratios against the same-type baseline and against classic.
 */
async function benchQueueTypes(): Promise<{ lines: string[]; c1: Series; c100: Series }> {
  interface Pair {
    type: RpcQueueType;
    queue: string;
    baseQueue: string;
    worker: AppProcess;
    baseServer: ChildProcess;
    baseClient: { call(n: number): Promise<string>; close(): Promise<void> };
    ours: RpcClient;
  }
  const pairs: Pair[] = [];
  for (const type of QUEUE_TYPES) {
    const queue = uniqueQueue(`bench-${type}-ours`);
    const baseQueue = uniqueQueue(`bench-${type}-base`);
    await declareQueue(baseQueue, type);
    const worker = await startWorker(queue, PREFETCH, APP_LOG_LEVEL, type);
    const baseServer = await startBaselineServer(baseQueue, type);
    const baseClient = await BaselineClient.open(AMQP_URL, baseQueue);
    const ours = new RpcClient({ url: AMQP_URL, queue, replyMode: 'queue' });
    await ours.connect();
    pairs.push({ type, queue, baseQueue, worker, baseServer, baseClient, ours });
  }
  const body = encodeFibRequest(30);
  const variants: [string, () => Promise<string>, number][] = pairs.flatMap(
    (p): [string, () => Promise<string>, number][] => [
      [`${p.type}: baseline`, () => p.baseClient.call(30), p.baseServer.pid as number],
      [`${p.type}: ours`, () => p.ours.call(body), p.worker.pid],
    ],
  );
  const c1: Series = {};
  const c100: Series = {};
  for (const [, call, pid] of variants) await rpcRun(call, pid, 100, 5000); // warm-up
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, call, pid] of variants) {
      (c1[name] ??= []).push(await rpcRun(call, pid, 1, GROUP_C1_CALLS));
      (c100[name] ??= []).push(await rpcRun(call, pid, 100, GROUP_C100_CALLS));
    }
  }
  for (const p of pairs) {
    await Promise.all([p.ours.close(), p.baseClient.close()]);
    p.baseServer.kill('SIGTERM');
    p.worker.signal('SIGTERM');
    await p.worker.exited;
    await deleteQueues(p.queue, p.baseQueue);
  }
  const lines = [
    `### 2. Request queue types: fib(30), each pair on a request queue of that type; ${fmt(GROUP_C1_CALLS)} calls a run at c=1, ${fmt(GROUP_C100_CALLS)} at c=100`,
    '',
    'Baseline = the tutorial-style client and server (`bench/baseline/`); ours = RpcClient (callback queue) + fib-worker. ' +
      'Each queue is declared by the bench before its server starts: quorum `{durable: true, arguments: {x-queue-type: quorum}}`, ' +
      'classic `{durable: true}`, transient `{durable: false}`. Requests are not persistent (neither client sets `deliveryMode`).',
    '',
    '| queue type | variant | c=100 calls/s (median, min–max) | × same-type baseline, per rep (median, min–max) | × classic, same variant, per rep | c=1 p50 ms (median, min–max) | × same-type baseline, per rep | × classic, same variant, per rep | c=100 p99 ms | CPU µs/call at c=100 client / server / broker |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const type of QUEUE_TYPES) {
    for (const variant of ['baseline', 'ours']) {
      const name = `${type}: ${variant}`;
      const base = `${type}: baseline`;
      const classic = `classic: ${variant}`;
      const rate = c100[name].map((r) => r.callsPerSec);
      const p50 = c1[name].map((r) => r.p50);
      lines.push(
        `| ${type} | ${variant} | ${fmt(median(rate))} (${spread(rate)}) | ${paired(c100[name], c100[base], callRate)} | ${paired(c100[name], c100[classic], callRate)} | ${median(p50).toFixed(3)} (${spread(p50, 3)}) | ${paired(c1[name], c1[base], p50Latency)} | ${paired(c1[name], c1[classic], p50Latency)} | ${median(c100[name].map((r) => r.p99)).toFixed(2)} | ${[
          median(c100[name].map((r) => r.cpuClient)),
          median(c100[name].map((r) => r.cpuServer)),
          median(c100[name].map((r) => r.cpuBroker)),
        ]
          .map((x) => x.toFixed(1))
          .join(' / ')} |`,
      );
    }
  }
  return { lines: [...lines, ''], c1, c100 };
}

/**
 * Issue 9, item 8: the same fib worker on @golevelup/nestjs-rabbitmq 9.0.2
 * (bench/golevelup-worker) against ours, same client, same queue type,
 * interleaved.
 */
async function benchGolevelup(): Promise<string[]> {
  const queue = uniqueQueue('bench-gl-ours');
  const glQueue = uniqueQueue('bench-gl-golevelup');
  const worker = await startWorker(queue);
  await declareQueue(glQueue, DEFAULT_QUEUE_TYPE);
  const glWorker = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(ROOT, 'bench/golevelup-worker/main.ts'),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, AMQP_URL, RPC_QUEUE: glQueue, WORKER_PREFETCH: String(PREFETCH), LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitFor(
    async () => (await consumerCount(glQueue)) > 0 || glWorker.exitCode !== null,
    60_000,
    'the golevelup worker to consume',
  );
  const ours = new RpcClient({ url: AMQP_URL, queue, replyMode: 'queue' });
  const toGl = new RpcClient({ url: AMQP_URL, queue: glQueue, replyMode: 'queue' });
  await Promise.all([ours.connect(), toGl.connect()]);
  const body = encodeFibRequest(30);
  const variants: [string, () => Promise<string>, number][] = [
    ['ours: RpcClient (callback queue) + fib-worker', () => ours.call(body), worker.pid],
    ['RpcClient (callback queue) + golevelup 9.0.2 worker', () => toGl.call(body), glWorker.pid as number],
  ];
  const c1: Series = {};
  const c100: Series = {};
  for (const [, call, pid] of variants) await rpcRun(call, pid, 100, 5000); // warm-up
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, call, pid] of variants) {
      (c1[name] ??= []).push(await rpcRun(call, pid, 1, GROUP_C1_CALLS));
      (c100[name] ??= []).push(await rpcRun(call, pid, 100, GROUP_C100_CALLS));
    }
  }
  await Promise.all([ours.close(), toGl.close()]);
  glWorker.kill('SIGTERM');
  worker.signal('SIGTERM');
  await Promise.all([worker.exited, new Promise((resolve) => glWorker.once('exit', resolve))]);
  await deleteQueues(queue, glQueue);
  const baseline = variants[0][0];
  return [
    ...rpcTable(
      `3. Worker on @golevelup/nestjs-rabbitmq 9.0.2 (bench/golevelup-worker), concurrency 100: fib(30), ${DEFAULT_QUEUE_TYPE} request queues, ${fmt(GROUP_C100_CALLS)} calls a run, baseline = our worker`,
      c100,
      baseline,
    ),
    ...rpcTable(`3. The same, concurrency 1, ${fmt(GROUP_C1_CALLS)} calls a run`, c1, baseline),
  ];
}

interface HttpFigures {
  reqPerSec: number;
  p50: number;
  p99: number;
}

async function cannon(url: string): Promise<HttpFigures> {
  const result = await autocannon({
    url: `${url}/fib/30`,
    connections: 100,
    duration: 5,
    expectBody: JSON.stringify({ n: 30, value: V30 }),
  });
  check(
    result.mismatches === 0 && result.non2xx === 0 && result.errors === 0 && result.timeouts === 0,
    `HTTP: ${result.mismatches} mismatches, ${result.non2xx} non-2xx, ${result.errors} errors`,
  );
  return { reqPerSec: result.requests.total / result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

/** A worker and a gateway on a queue of their own, both at `logLevel`; resolves with the gateway's URL. */
async function startPair(logLevel: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const queue = uniqueQueue(`bench-gw-${logLevel}`);
  const worker = await startWorker(queue, PREFETCH, logLevel);
  const port = await freePort();
  const gateway = new AppProcess(
    'gateway',
    { AMQP_URL, RPC_QUEUE: queue, LOG_LEVEL: logLevel, PORT: String(port) },
    [],
    { stdout: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/health`).catch(() => undefined))?.status === 200,
    10_000,
    'gateway health',
  );
  return {
    url,
    stop: async () => {
      gateway.signal('SIGTERM');
      worker.signal('SIGTERM');
      await Promise.all([gateway.exited, worker.exited]);
      await deleteQueues(queue);
    },
  };
}

async function benchGateway(rpcBaselineRate: number): Promise<{ lines: string[]; gateway: HttpFigures[] }> {
  const quiet = await startPair(APP_LOG_LEVEL);
  const logged = await startPair('info');
  const { child: ceiling, output } = await startProcess(
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', join(ROOT, 'bench/http-ceiling.ts')],
    { PORT: '0' },
  );
  const ceilingUrl = (/listening on (\S+)/.exec(output) as RegExpExecArray)[1];
  const variants: [string, string][] = [
    [`gateway → broker → fib-worker (LOG_LEVEL=${APP_LOG_LEVEL})`, quiet.url],
    ['gateway → broker → fib-worker (LOG_LEVEL=info: a JSON line per request on each side)', logged.url],
    ['Nest + Fastify, fib in-process (HTTP ceiling)', ceilingUrl],
  ];
  for (const [, url] of variants) await cannon(url); // warm-up
  const runs: Record<string, HttpFigures[]> = {};
  for (let rep = 0; rep < Math.max(3, Math.ceil(REPS / 2)); rep++) {
    for (const [name, url] of variants) (runs[name] ??= []).push(await cannon(url));
  }
  ceiling.kill('SIGTERM');
  await Promise.all([quiet.stop(), logged.stop()]);
  const lines = [
    '### 4. Gateway end to end: autocannon, 100 connections, 5 s, GET /fib/30',
    '',
    '| variant | req/s (median, min–max) | × RPC baseline (c=100) | p50 ms | p99 ms |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const [name, figures] of Object.entries(runs)) {
    const rate = figures.map((f) => f.reqPerSec);
    lines.push(
      `| ${name} | ${fmt(median(rate))} (${spread(rate)}) | ${(median(rate) / rpcBaselineRate).toFixed(2)} | ${median(figures.map((f) => f.p50))} | ${median(figures.map((f) => f.p99))} |`,
    );
  }
  return { lines: [...lines, ''], gateway: runs[variants[0][0]] };
}

async function benchCompute(): Promise<{ lines: string[]; fib1e5: number }> {
  const queue = uniqueQueue('bench-compute');
  const worker = await startWorker(queue);
  const client = new RpcClient({ url: AMQP_URL, queue, timeoutMs: 30_000 });
  await client.connect();
  const lines = [
    '### 5. Compute: fib(n) exact, with its decimal string',
    '',
    '| n | digits | in-process ms (median of 30) | over RPC, sequential ms (median of 30) |',
    '| --- | --- | --- | --- |',
  ];
  let fib1e5 = 0;
  for (const n of [1_000, 10_000, 100_000]) {
    const expected = fib(n).toString();
    const local: number[] = [];
    const remote: number[] = [];
    for (let i = 0; i < 30; i++) {
      let t = process.hrtime.bigint();
      const value = fib(n).toString();
      local.push(Number(process.hrtime.bigint() - t) / 1e6);
      check(value === expected, `local fib(${n})`);
      t = process.hrtime.bigint();
      const answer = await client.call(encodeFibRequest(n));
      remote.push(Number(process.hrtime.bigint() - t) / 1e6);
      check(answer === expected, `remote fib(${n})`);
    }
    if (n === 100_000) fib1e5 = median(local);
    lines.push(`| ${fmt(n)} | ${fmt(expected.length)} | ${median(local).toFixed(3)} | ${median(remote).toFixed(3)} |`);
  }
  await client.close();
  worker.signal('SIGTERM');
  await worker.exited;
  await deleteQueues(queue);
  return { lines: [...lines, ''], fib1e5 };
}

async function benchReplicas(): Promise<string[]> {
  const queue = uniqueQueue('bench-replicas');
  const n = 100_000;
  const expected = fib(n).toString();
  const first = await startWorker(queue);
  const client = new RpcClient({ url: AMQP_URL, queue, timeoutMs: 60_000, consumerCheckIntervalMs: 200 });
  await client.connect();
  const body = encodeFibRequest(n);
  const run = async (): Promise<number> => {
    const total = 400;
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next++ < total) check((await client.call(body)) === expected, `fib(${n}) over RPC`);
      }),
    );
    return total / (Number(process.hrtime.bigint() - started) / 1e9);
  };
  const one: number[] = [];
  const two: number[] = [];
  await run();
  for (let rep = 0; rep < 3; rep++) {
    one.push(await run());
    const second = await startWorker(queue);
    while (client.consumerCount < 2) await sleep(50);
    two.push(await run());
    second.signal('SIGTERM');
    await second.exited;
    while (client.consumerCount > 1) await sleep(50);
  }
  await client.close();
  first.signal('SIGTERM');
  await first.exited;
  await deleteQueues(queue);
  return [
    `### 6. Replicas: fib(${fmt(n)}) over RPC, 32 calls in flight, 400 calls a run`,
    '',
    '| workers | calls/s (median, min–max) | × one worker |',
    '| --- | --- | --- |',
    `| 1 | ${fmt(median(one))} (${spread(one)}) | 1.00 |`,
    `| 2 | ${fmt(median(two))} (${spread(two)}) | ${(median(two) / median(one)).toFixed(2)} |`,
    '',
  ];
}

type Target = [name: string, value: number, ok: (x: number) => boolean, show: (x: number) => string];

async function main(): Promise<void> {
  const started = Date.now();
  const rabbit = execSync("rabbitmqctl version 2>/dev/null || echo '?'").toString().trim();
  const header = [
    `## fib-rpc benchmark — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, RabbitMQ ${rabbit}; broker, callers and servers share the cores. ` +
      `Medians of ${REPS} interleaved repetitions (min–max in brackets); worker and baseline prefetch ${PREFETCH}; TCP_NODELAY on everywhere; apps at LOG_LEVEL=${APP_LOG_LEVEL} unless a row says otherwise. ` +
      `Request queues are ${DEFAULT_QUEUE_TYPE} (the default RPC_QUEUE_TYPE) except in section 2, declared by the bench before the servers start.` +
      (ONLY.size < GROUPS.length ? ` Groups run: ${[...ONLY].join(', ')} (BENCH_ONLY).` : ''),
    '',
  ];
  const baselineName = 'amqplib tutorial-style baseline';
  const oursName = 'ours: RpcClient (callback queue) + fib-worker';
  const rate = (s: Series, k: string): number => median(s[k].map((r) => r.callsPerSec));
  const p50 = (s: Series, k: string): number => median(s[k].map((r) => r.p50));
  const ratio = (x: number): string => `${x.toFixed(2)}×`;
  const targets: Target[] = [];
  const sections: string[] = [];

  if (runs('rpc')) {
    const rpc = await benchRpc();
    sections.push(...rpc.lines);
    targets.push(
      [
        'RPC throughput at c=100 ≥ 1.0× baseline',
        rate(rpc.c100, oursName) / rate(rpc.c100, baselineName),
        (x) => x >= 1.0,
        ratio,
      ],
      ['sequential p50 ≤ 1.1× baseline', p50(rpc.c1, oursName) / p50(rpc.c1, baselineName), (x) => x <= 1.1, ratio],
    );
    if (runs('gateway')) {
      const gateway = await benchGateway(rate(rpc.c100, baselineName));
      sections.push(...gateway.lines);
      targets.push(
        [
          'gateway ≥ 0.5× RPC baseline calls/s',
          median(gateway.gateway.map((g) => g.reqPerSec)) / rate(rpc.c100, baselineName),
          (x) => x >= 0.5,
          ratio,
        ],
        ['gateway p99 < 25 ms', median(gateway.gateway.map((g) => g.p99)), (x) => x < 25, (x) => `${x} ms`],
      );
    }
  } else if (runs('gateway')) {
    sections.push(...(await benchGateway(Number.NaN)).lines);
  }
  if (runs('queue-types')) sections.push(...(await benchQueueTypes()).lines);
  if (runs('golevelup')) sections.push(...(await benchGolevelup()));
  if (runs('compute')) {
    const compute = await benchCompute();
    sections.push(...compute.lines);
    targets.push(['fib(100000) < 5 ms', compute.fib1e5, (x) => x < 5, (x) => `${x.toFixed(2)} ms`]);
  }
  if (runs('replicas')) sections.push(...(await benchReplicas()));
  if (runs('hand-gateway')) {
    const hand = await benchHandGateway(Number(process.env.BENCH_REPS ?? 3), PREFETCH, check);
    sections.push(...hand.lines);
    for (const [type, { rate, cpu }] of Object.entries(hand.ratios)) {
      targets.push(
        [`${type}: our gateway (defaults) ≥ 1.3× hand-written gateway req/s`, rate, (x) => x >= 1.3, ratio],
        [`${type}: our gateway CPU per request ≤ 1.2× hand-written gateway's`, cpu, (x) => x <= 1.2, ratio],
      );
    }
  }

  if (runs('tracing')) {
    const tracing = await benchTracing(Number(process.env.BENCH_REPS ?? 3), check);
    sections.push(...tracing.lines);
    const cost = (x: number): string => `${((1 - x) * 100).toFixed(1)} %`;
    targets.push([
      'tracing on, sampling 1.0: costs ≤ 15 % of throughput',
      tracing.rateVsOff.always,
      (x) => x >= 0.85,
      cost,
    ]);
  }

  const targetLines = ['### Targets', '', '| target | measured | met |', '| --- | --- | --- |'];
  for (const [name, value, ok, show] of targets)
    targetLines.push(`| ${name} | ${show(value)} | ${ok(value) ? 'yes' : 'NO'} |`);
  const footer = [
    '',
    invalid === 0
      ? `All answers checked: correct. Run took ${Math.round((Date.now() - started) / 1000)} s.`
      : `INVALID RUN: ${invalid} wrong answers.`,
    '',
  ];
  const report = [
    ...header,
    ...(targets.length > 0 ? [...targetLines, ''] : []),
    ...orderSections(sections),
    ...footer,
  ].join('\n');
  process.stdout.write(`\n${report}`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/latest.md'), report);
  process.exit(invalid === 0 ? 0 : 1);
}

/** Sections in the order of their numbers (the gateway's runs right after the RPC rows, for its ratio). */
function orderSections(lines: string[]): string[] {
  const sections: { number: number; lines: string[] }[] = [];
  for (const line of lines) {
    const heading = /^### (\d+)\./.exec(line);
    if (heading !== null) sections.push({ number: Number(heading[1]), lines: [] });
    sections[sections.length - 1]?.lines.push(line);
  }
  return sections.sort((a, b) => a.number - b.number).flatMap((s) => s.lines);
}

void main();
