/**
 * A/B of two gateway builds' CPU per request (not part of `npm run bench`): one worker (this tree's
 * dist), both gateways on its queue, alternating autocannon runs of a fixed number of requests at
 * c=100, gateway CPU from /proc before and after each run. Steadier than req/s on a shared machine.
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/gateway-ab.ts \
 *     <A main.js> <B main.js> [runs=10] [requests=6000]
 *
 * AB_LOG_A / AB_LOG_B set each gateway's LOG_LEVEL (default info). Every body is checked.
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { AMQP_URL, deleteQueues, uniqueQueue, waitFor } from '../test/support/broker';
import { cpuMs, declareQueue, freePort, median, ROOT } from './bench-support';

interface Side {
  label: string;
  child: ChildProcess;
  url: string;
  cpu: number[];
  rate: number[];
}

async function main(): Promise<void> {
  const [a, b, runsArg, requestsArg] = process.argv.slice(2);
  if (a === undefined || b === undefined)
    throw new Error('usage: gateway-ab.ts <A main.js> <B main.js> [runs] [requests]');
  const runs = Number(runsArg ?? 10);
  const requests = Number(requestsArg ?? 6000);
  const queue = uniqueQueue('bench-gateway-ab');
  await declareQueue(queue, 'quorum');
  const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    NO_COLOR: '1',
    AMQP_URL,
    RPC_QUEUE: queue,
    LOG_LEVEL: 'info',
    ...extra,
  });
  const start = (main: string, extra: Record<string, string>): ChildProcess =>
    spawn(process.execPath, [main], { env: env(extra), stdio: ['ignore', 'ignore', 'inherit'] });
  const worker = start(join(ROOT, 'dist/apps/fib-worker/main.js'), { WORKER_HTTP_PORT: '0' });
  const sides: Side[] = [];
  try {
    for (const [label, main, level] of [
      ['A', a, process.env.AB_LOG_A ?? 'info'],
      ['B', b, process.env.AB_LOG_B ?? 'info'],
    ] as const) {
      const port = await freePort();
      const child = start(main, { PORT: String(port), LOG_LEVEL: level });
      sides.push({ label: `${label} ${main} (${level})`, child, url: `http://127.0.0.1:${port}`, cpu: [], rate: [] });
    }
    for (const side of sides) {
      await waitFor(
        async () => {
          const res = await fetch(`${side.url}/health`).catch(() => undefined);
          const body = (await res?.json().catch(() => undefined)) as { info?: { broker?: { workers?: number } } };
          return (body?.info?.broker?.workers ?? 0) > 0;
        },
        60_000,
        `${side.label} to see the worker`,
      );
      await autocannon({ url: `${side.url}/fib/30`, connections: 100, amount: 3000 }); // warm-up
    }
    for (let run = 0; run < runs; run++) {
      for (const side of run % 2 === 0 ? sides : [...sides].reverse()) {
        const before = cpuMs(side.child.pid as number);
        const result = await autocannon({
          url: `${side.url}/fib/30`,
          connections: 100,
          amount: requests,
          expectBody: JSON.stringify({ n: 30, value: '832040' }),
        });
        if (result.non2xx + result.mismatches + result.errors > 0) throw new Error(`${side.label}: wrong answers`);
        side.cpu.push(((cpuMs(side.child.pid as number) - before) * 1000) / result.requests.total);
        side.rate.push(result.requests.total / result.duration);
      }
    }
    for (const side of sides) {
      const cpu = side.cpu.map((x) => x.toFixed(0)).join(' ');
      console.log(
        `${side.label}: gateway CPU µs/request median ${median(side.cpu).toFixed(1)} [${cpu}], req/s median ${median(side.rate).toFixed(0)}`,
      );
    }
    const ratios = sides[1].cpu.map((x, i) => x / sides[0].cpu[i]);
    console.log(
      `B ÷ A CPU per request, per run: median ${median(ratios).toFixed(3)} [${ratios.map((x) => x.toFixed(2)).join(' ')}]`,
    );
  } finally {
    for (const side of sides) side.child.kill('SIGTERM');
    worker.kill('SIGTERM');
    await Promise.all(
      [...sides.map((s) => s.child), worker].map(
        (child) =>
          new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve))),
      ),
    );
    await deleteQueues(queue);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
