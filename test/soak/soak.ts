/**
 * `npm run soak`: steady HTTP load through the built gateway while faults are
 * injected — the gateway's broker connection cut (TCP proxy), workers killed
 * (SIGKILL) and stopped (SIGTERM) and restarted — then a table of outcomes.
 * Hung answers and wrong answers must both be 0 (exit status 1 otherwise).
 *
 * SOAK_SECONDS (default 180), SOAK_CONCURRENCY (default 50).
 */
import { fib } from '@app/fib';
import { readFileSync } from 'node:fs';
import { AMQP_URL, deleteQueues, sleep, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { TcpProxy } from '../support/tcp-proxy';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 50);
const TIMEOUT_MS = 2000;
const HUNG_MS = TIMEOUT_MS * 4;
const MAX_N = 3000;
const expected = Array.from({ length: MAX_N + 1 }, (_, n) => fib(n).toString());

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

async function main(): Promise<void> {
  const queue = uniqueQueue('soak');
  const proxy = await TcpProxy.start();
  const startWorker = async (): Promise<AppProcess> => {
    const worker = new AppProcess('fib-worker', { AMQP_URL, RPC_QUEUE: queue });
    await worker.waitForOutput(/consuming /);
    return worker;
  };
  const workers = [await startWorker(), await startWorker()];
  const gateway = new AppProcess('gateway', {
    AMQP_URL: proxy.url,
    RPC_QUEUE: queue,
    RPC_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  const url = await gateway.httpUrl();
  await waitFor(async () => (await fetch(`${url}/health`)).status === 200, 10_000, 'gateway health');

  const outcomes: Record<string, number> = {};
  const count = (key: string): void => void (outcomes[key] = (outcomes[key] ?? 0) + 1);
  let calls = 0;
  let running = true;

  const loop = async (): Promise<void> => {
    while (running) {
      const n = Math.floor(Math.random() * (MAX_N + 1));
      calls++;
      try {
        const res = await fetch(`${url}/fib/${n}`, { signal: AbortSignal.timeout(HUNG_MS) });
        const body = (await res.json()) as { value?: string; code?: string };
        if (res.status === 200) count(body.value === expected[n] ? 'answered correctly' : 'WRONG ANSWER');
        else count(`failed ${res.status} ${body.code ?? ''}`.trim());
      } catch (error) {
        count(error instanceof Error && error.name === 'TimeoutError' ? 'HUNG' : `http error ${String(error)}`);
        await sleep(10);
      }
    }
  };

  const warmup = Array.from({ length: CONCURRENCY }, loop);
  await sleep(3000);
  const rssStart = { gateway: rssMb(gateway.pid), workers: workers.map((w) => rssMb(w.pid)) };
  const faults: string[] = [];
  const started = Date.now();
  let step = 0;
  while (Date.now() - started < SECONDS * 1000) {
    await sleep(4000);
    switch (step++ % 3) {
      case 0:
        faults.push('proxy cut 1 s');
        await proxy.cut();
        await sleep(1000);
        await proxy.restore();
        break;
      case 1: {
        faults.push('worker SIGKILL + restart');
        const victim = workers.shift() as AppProcess;
        victim.signal('SIGKILL');
        await victim.exited;
        workers.push(await startWorker());
        break;
      }
      default: {
        faults.push('worker SIGTERM + restart');
        const victim = workers.shift() as AppProcess;
        victim.signal('SIGTERM');
        const { code } = await victim.exited;
        if (code !== 0) faults.push(`  (SIGTERM exit status ${code})`);
        workers.push(await startWorker());
      }
    }
  }
  const rssEnd = { gateway: rssMb(gateway.pid), workers: workers.map((w) => rssMb(w.pid)) };
  running = false;
  await Promise.all(warmup);

  gateway.signal('SIGTERM');
  const gatewayExit = await gateway.exited;
  for (const worker of workers) worker.signal('SIGTERM');
  const workerExits = await Promise.all(workers.map((w) => w.exited));
  await proxy.cut();
  await deleteQueues(queue);

  const answered = outcomes['answered correctly'] ?? 0;
  const hung = outcomes.HUNG ?? 0;
  const wrong = outcomes['WRONG ANSWER'] ?? 0;
  const settled = Object.values(outcomes).reduce((a, b) => a + b, 0);
  const rows = [
    [
      'duration',
      `${SECONDS} s, ${CONCURRENCY} concurrent HTTP clients, n in 0..${MAX_N}, RPC_TIMEOUT_MS=${TIMEOUT_MS}`,
    ],
    ['faults injected', `${faults.length} (${[...new Set(faults)].join(', ')})`],
    ['calls made', String(calls)],
    ['calls settled', String(settled)],
    ['answered correctly', String(answered)],
    ...Object.entries(outcomes)
      .filter(([key]) => key.startsWith('failed') || key.startsWith('http error'))
      .sort()
      .map(([key, value]) => [key, String(value)]),
    ['hung (must be 0)', String(hung)],
    ['wrong answers (must be 0)', String(wrong)],
    ['gateway RSS start → end', `${rssStart.gateway} MB → ${rssEnd.gateway} MB`],
    [
      'worker RSS start → end',
      `${rssStart.workers.join(' / ')} MB → ${rssEnd.workers.join(' / ')} MB (end: restarted replicas)`,
    ],
    ['exit on SIGTERM', `gateway ${gatewayExit.code}, workers ${workerExits.map((e) => e.code).join(', ')}`],
  ];
  console.log('\n| measure | value |\n| --- | --- |');
  for (const [key, value] of rows) console.log(`| ${key} | ${value} |`);
  const ok = hung === 0 && wrong === 0 && settled === calls;
  console.log(ok ? '\nsoak passed' : '\nSOAK FAILED');
  process.exit(ok ? 0 : 1);
}

void main();
