/**
 * Section 8 of `npm run bench` (BENCH_ONLY=tracing), also runnable alone.
 * What tracing costs the gateway: autocannon against GET /fib/30 through a
 * gateway and a worker (built apps) with tracing off (no OTEL_* variable),
 * on at sampling 1.0 (OTLP http/protobuf, and http/json; and spans made but not
 * exported, to tell making spans from exporting them), and on at 0.01,
 * exporting to a local receiver (a process of its own) that takes and drops everything. Medians of interleaved
 * repetitions. Run: `npm run build && node -r ts-node/register/transpile-only
 * -r tsconfig-paths/register bench/tracing-cost.ts` (TRACING_BENCH_REPS, default 3; TRACING_BENCH_LOG_LEVEL,
 * default info, the apps' default: a log line per request on each side).
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { loadavg } from 'node:os';
import { AMQP_URL, deleteQueues, uniqueQueue, waitFor } from '../test/support/broker';
import { AppProcess } from '../test/support/app-process';

/** The apps' LOG_LEVEL: info (the default: a line per request on each side, with the trace's ids when traced), or warn. */
const LOG_LEVEL = process.env.TRACING_BENCH_LOG_LEVEL ?? 'info';
const V30 = JSON.stringify({ n: 30, value: '832040' });
/**
 * Under load a batch (512 spans) fills every few tens of milliseconds and goes out at once; the
 * schedule delay (5 s by default) only decides when a run's last, partly filled batch goes. Shorter
 * here, with a pause after each run, so that it is exported before the next variant's run starts.
 */
const OTLP_TAIL = { OTEL_BSP_SCHEDULE_DELAY: '500' };
const TAIL_PAUSE_MS = 1000;

interface Figures {
  reqPerSec: number;
  p50: number;
  p99: number;
  /** CPU time (user + system) of the gateway and of the worker per request, µs: steadier than req/s on a shared machine. */
  gatewayCpuUs: number;
  workerCpuUs: number;
  /** The OTLP receiver's CPU per request: a collector's work, here on the same two cores. */
  receiverCpuUs: number;
}

/** CPU time a process has used so far, in µs (Linux /proc; clock ticks of 10 ms). */
function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The receiver, run in a process of its own as a collector would be: in autocannon's process its reading would slow the load. */
const RECEIVER = `
let bytes = 0;
const server = require('node:http').createServer((request, response) => {
  request.on('data', (chunk) => (bytes += chunk.length));
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('SIGTERM', () => { process.stdout.write(bytes + '\\n'); process.exit(0); });
`;

/** An OTLP endpoint that reads each export and answers 200: the exporters' work is real, the receiver's minimal. */
async function drainingReceiver(): Promise<{ url: string; pid: number; close: () => Promise<number> }> {
  const child = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let lineArrived = (): void => undefined;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    lines.push(...text.split('\n').filter(Boolean));
    lineArrived();
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((resolve) => (lineArrived = resolve));
    return lines.shift() as string;
  };
  const port = await nextLine();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    close: async () => {
      child.kill('SIGTERM');
      return Number(await nextLine());
    },
  };
}

interface Pair {
  url: string;
  gatewayPid: number;
  workerPid: number;
  stop: () => Promise<void>;
}

async function startPair(name: string, tracing: Record<string, string>): Promise<Pair> {
  const queue = uniqueQueue(`bench-trace-${name}`);
  const env = { AMQP_URL, RPC_QUEUE: queue, LOG_LEVEL, ...tracing };
  const worker = new AppProcess('fib-worker', env, [], { stdout: 'ignore' });
  const port = await freePort();
  const gateway = new AppProcess('gateway', { ...env, PORT: String(port) }, [], { stdout: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await gateway.stop();
    await worker.stop();
    await deleteQueues(queue);
  };
  await waitFor(
    async () => (await fetch(`${url}/fib/1`).catch(() => undefined))?.status === 200,
    15_000,
    'service',
  ).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, gatewayPid: gateway.pid, workerPid: worker.pid, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function cannon({ url, gatewayPid, workerPid }: Pair, receiverPid: number, check: Check): Promise<Figures> {
  const [gatewayAt, workerAt, receiverAt] = [cpuUs(gatewayPid), cpuUs(workerPid), cpuUs(receiverPid)];
  const result = await autocannon({ url: `${url}/fib/30`, connections: 100, duration: 5, expectBody: V30 });
  const requests = result.requests.total;
  check(
    result.mismatches + result.non2xx + result.errors + result.timeouts === 0,
    `tracing ${url}: ${result.mismatches} wrong bodies, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
  );
  return {
    reqPerSec: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    gatewayCpuUs: (cpuUs(gatewayPid) - gatewayAt) / requests,
    workerCpuUs: (cpuUs(workerPid) - workerAt) / requests,
    receiverCpuUs: (cpuUs(receiverPid) - receiverAt) / requests,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

type Check = (ok: boolean, what: string) => void;

export interface TracingResult {
  lines: string[];
  /** Throughput with tracing on at sampling 1.0 (protobuf, exported), as a fraction of off's (medians). */
  rateVsOff: { always: number };
}

export async function benchTracing(reps: number, check: Check): Promise<TracingResult> {
  const receiver = await drainingReceiver();
  const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...OTLP_TAIL };
  const variants: [string, Record<string, string>][] = [
    ['tracing off (no OTEL_* variable)', {}],
    ['tracing on, sampling 1.0 (parentbased_always_on), OTLP http/protobuf', otlp],
    [
      'tracing on, sampling 1.0 (parentbased_always_on), OTLP http/json',
      { ...otlp, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    ],
    // Spans made, propagated and ended, not exported: what making them costs, apart from exporting them.
    ['tracing on, sampling 1.0, spans not exported (OTEL_TRACES_EXPORTER=none)', { OTEL_TRACES_EXPORTER: 'none' }],
    [
      'tracing on, sampling 0.01 (parentbased_traceidratio), OTLP http/protobuf',
      { ...otlp, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
    ],
  ];
  const pairs: Pair[] = [];
  const runs: Figures[][] = variants.map(() => []);
  const loads: number[] = [];
  let receivedBytes: number;
  try {
    for (const [i, [, env]] of variants.entries()) pairs.push(await startPair(`v${i}`, env));
    for (const pair of pairs) await cannon(pair, receiver.pid, check); // warm-up
    for (let rep = 0; rep < reps; rep++) {
      // alternate the order, so a drift of the machine does not always favour the same variant
      for (const [i, pair] of rep % 2 === 0 ? pairs.entries() : [...pairs.entries()].reverse()) {
        runs[i].push(await cannon(pair, receiver.pid, check));
        loads.push(loadavg()[0]);
        // the run's last, partly filled batch goes out now (OTLP_TAIL), not during the next variant's run
        await new Promise((resolve) => setTimeout(resolve, TAIL_PAUSE_MS));
      }
    }
  } finally {
    for (const pair of pairs) await pair.stop();
    receivedBytes = await receiver.close();
  }
  const off = median(runs[0].map((f) => f.reqPerSec));
  const offCpu = median(runs[0].map((f) => f.gatewayCpuUs + f.workerCpuUs));
  const lines = [
    `### 8. What tracing costs: gateway + worker (built apps), autocannon 100 connections × 5 s on GET /fib/30, ${reps} interleaved repetitions`,
    '',
    'Each variant its own gateway and worker on a request queue of their own; exporting to a local OTLP receiver (a process of its own) that reads and drops every export. ' +
      `Apps at LOG_LEVEL=${LOG_LEVEL} (TRACING_BENCH_LOG_LEVEL). "vs off": the median req/s against the off row's median.`,
    '',
    '| variant | req/s (median, min–max) | vs off | p50 ms | p99 ms | CPU µs/request gateway + worker | CPU vs off | receiver CPU µs/request |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [i, [name]] of variants.entries()) {
    const rates = runs[i].map((f) => f.reqPerSec);
    const rate = median(rates);
    lines.push(
      `| ${name} | ${Math.round(rate)} (${Math.round(Math.min(...rates))}–${Math.round(Math.max(...rates))}) | ` +
        `${((rate / off - 1) * 100).toFixed(1)} % | ${median(runs[i].map((f) => f.p50))} | ${median(runs[i].map((f) => f.p99))} | ` +
        `${Math.round(median(runs[i].map((f) => f.gatewayCpuUs)))} + ${Math.round(median(runs[i].map((f) => f.workerCpuUs)))} | ` +
        `+${((median(runs[i].map((f) => f.gatewayCpuUs + f.workerCpuUs)) / offCpu - 1) * 100).toFixed(1)} % | ` +
        `${Math.round(median(runs[i].map((f) => f.receiverCpuUs)))} |`,
    );
  }
  lines.push(
    '',
    `OTLP bytes received: ${receivedBytes}; load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the runs.`,
    '',
  );
  return { lines, rateVsOff: { always: median(runs[1].map((f) => f.reqPerSec)) / off } };
}

if (require.main === module) {
  benchTracing(Number(process.env.TRACING_BENCH_REPS ?? 3), (ok, what) => {
    if (!ok) throw new Error(what);
  })
    .then(({ lines }) => process.stdout.write(`${lines.join('\n')}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    });
}
