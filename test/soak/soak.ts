/**
 * `npm run soak`: steady HTTP load through the built gateway while faults are
 * injected — the gateway's broker link frozen (its TCP proxy stops forwarding,
 * sockets kept open: a silent link) and cut, one worker's link frozen, workers
 * killed (SIGKILL) and stopped (SIGTERM) and restarted — then a table of
 * outcomes. Hung answers and wrong answers must both be 0, and the gateway's
 * silent link drops must equal the freezes of its link: no spurious drop under
 * load (exit status 1 otherwise).
 *
 * SOAK_SECONDS (default 180), SOAK_CONCURRENCY (default 50).
 */
import { fib } from '@app/fib';
import { readFileSync } from 'node:fs';
import { AMQP_URL, deleteQueues, sleep, uniqueQueue, waitFor } from '../support/broker';
import { sample } from '../support/metrics';
import { AppProcess } from '../support/app-process';
import { TcpProxy } from '../support/tcp-proxy';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 50);
const TIMEOUT_MS = 2000;
const HUNG_MS = TIMEOUT_MS * 4;
const MAX_N = 3000;
/** A gateway link freeze outlasts its detection (consumer check every 1 s, 3 s bound); a worker's, the broker's heartbeat timeout. */
const GATEWAY_FREEZE_MS = 6000;
const WORKER_FREEZE_MS = 12_000;
const expected = Array.from({ length: MAX_N + 1 }, (_, n) => fib(n).toString());

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

async function main(): Promise<void> {
  const queue = uniqueQueue('soak');
  const proxy = await TcpProxy.start();
  // Each worker behind a proxy of its own, so one worker's link can go silent.
  const workerProxies = new Map<AppProcess, TcpProxy>();
  const startWorker = async (): Promise<AppProcess> => {
    const workerProxy = await TcpProxy.start(Number(new URL(AMQP_URL).port) || 5672);
    const worker = new AppProcess('fib-worker', { AMQP_URL: workerProxy.url, RPC_QUEUE: queue });
    workerProxies.set(worker, workerProxy);
    await worker.waitForOutput(/consuming /, 60_000);
    return worker;
  };
  const retire = async (worker: AppProcess): Promise<void> => {
    await workerProxies.get(worker)?.cut();
    workerProxies.delete(worker);
  };
  const workers = [await startWorker(), await startWorker()];
  const gateway = new AppProcess('gateway', {
    AMQP_URL: proxy.url,
    RPC_QUEUE: queue,
    RPC_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  const url = await gateway.httpUrl(60_000);
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
  let gatewayFreezes = 0;
  const started = Date.now();
  let step = 0;
  while (Date.now() - started < SECONDS * 1000) {
    await sleep(4000);
    switch (step++ % 5) {
      case 0:
        faults.push(`gateway link frozen ${GATEWAY_FREEZE_MS / 1000} s`);
        gatewayFreezes++;
        proxy.freeze();
        await sleep(GATEWAY_FREEZE_MS);
        proxy.thaw();
        await waitFor(async () => (await fetch(`${url}/health`)).status === 200, 30_000, 'gateway health after thaw');
        break;
      case 1: {
        faults.push(`one worker's link frozen ${WORKER_FREEZE_MS / 1000} s`);
        const workerProxy = workerProxies.get(workers[0]) as TcpProxy;
        workerProxy.freeze();
        await sleep(WORKER_FREEZE_MS);
        workerProxy.thaw();
        break;
      }
      case 2:
        faults.push('proxy cut 1 s');
        await proxy.cut();
        await sleep(1000);
        await proxy.restore();
        break;
      case 3: {
        faults.push('worker SIGKILL + restart');
        const victim = workers.shift() as AppProcess;
        victim.signal('SIGKILL');
        await victim.exited;
        await retire(victim);
        workers.push(await startWorker());
        break;
      }
      default: {
        faults.push('worker SIGTERM + restart');
        const victim = workers.shift() as AppProcess;
        victim.signal('SIGTERM');
        const { code } = await victim.exited;
        if (code !== 0) faults.push(`  (SIGTERM exit status ${code})`);
        await retire(victim);
        workers.push(await startWorker());
      }
    }
  }
  const rssEnd = { gateway: rssMb(gateway.pid), workers: workers.map((w) => rssMb(w.pid)) };
  running = false;
  await Promise.all(warmup);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const silentDrops = sample(metrics, 'fib_gateway_broker_silent_link_drops_total');
  const reconnects = sample(metrics, 'fib_gateway_broker_reconnects_total');

  gateway.signal('SIGTERM');
  const gatewayExit = await gateway.exited;
  for (const worker of workers) worker.signal('SIGTERM');
  const workerExits = await Promise.all(workers.map((w) => w.exited));
  await proxy.cut();
  for (const worker of [...workerProxies.keys()]) await retire(worker);
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
    [
      'faults injected',
      `${faults.length} (${Object.entries(
        faults.reduce<Record<string, number>>((m, f) => ({ ...m, [f]: (m[f] ?? 0) + 1 }), {}),
      )
        .map(([fault, n]) => `${fault} ×${n}`)
        .join(', ')})`,
    ],
    ['calls made', String(calls)],
    ['calls settled', String(settled)],
    ['answered correctly', String(answered)],
    ...Object.entries(outcomes)
      .filter(([key]) => key.startsWith('failed') || key.startsWith('http error'))
      .sort()
      .map(([key, value]) => [key, String(value)]),
    ['hung (must be 0)', String(hung)],
    ['wrong answers (must be 0)', String(wrong)],
    [
      'gateway silent link drops (must equal its link freezes)',
      `${silentDrops} (link freezes: ${gatewayFreezes}; reconnects: ${reconnects})`,
    ],
    ['gateway RSS start → end', `${rssStart.gateway} MB → ${rssEnd.gateway} MB`],
    [
      'worker RSS start → end',
      `${rssStart.workers.join(' / ')} MB → ${rssEnd.workers.join(' / ')} MB (end: restarted replicas)`,
    ],
    ['exit on SIGTERM', `gateway ${gatewayExit.code}, workers ${workerExits.map((e) => e.code).join(', ')}`],
  ];
  console.log('\n| measure | value |\n| --- | --- |');
  for (const [key, value] of rows) console.log(`| ${key} | ${value} |`);
  const ok = hung === 0 && wrong === 0 && settled === calls && silentDrops === gatewayFreezes;
  console.log(ok ? '\nsoak passed' : '\nSOAK FAILED');
  process.exit(ok ? 0 : 1);
}

// SOAK_MODE=cluster: node kills and freezes of a private 3-node cluster instead (test/soak/cluster-soak.ts).
if (process.env.SOAK_MODE === 'cluster') {
  void import('./cluster-soak').then(async ({ runClusterSoak }) => process.exit((await runClusterSoak()) ? 0 : 1));
} else {
  void main();
}
