/**
 * `npm run silent`: the silent-failure scenarios of issue 10, each run
 * SILENT_RUNS times (default 5; SILENT_RUNS_WORKER for the slow worker case,
 * default 3), with the built apps as child processes and default settings
 * (AMQP_HEARTBEAT_S 5, AMQP_CONNECT_TIMEOUT_MS 3000, RPC_TIMEOUT_MS 5000).
 * Prints median and max of each detection and recovery time.
 *
 * SILENT_SCENARIOS (default "gateway,worker,node") picks scenarios.
 *
 * The scenario functions are also what the fault specs
 * (test/fault/silent-links, frozen-broker, flow-control) run and assert on.
 */
import { AMQP_URL, consumerCount, deleteQueues, sleep, uniqueQueue, waitFor } from '../support/broker';
import { AppProcess } from '../support/app-process';
import { httpGet, HttpAnswer } from '../support/http';
import { sample } from '../support/metrics';
import { PrivateNode } from '../support/private-node';
import { TcpProxy } from '../support/tcp-proxy';

/** One call of the steady load: when it started (ms after the fault), how it ended, how long it took. */
export interface Call {
  at: number;
  status: number;
  code: string | undefined;
  ms: number;
}

/** Steady load: one GET every `intervalMs`, not waiting for the previous one. */
export class SteadyLoad {
  /** Calls so far, `at` in absolute epoch ms. */
  private readonly made: Call[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private origin = Date.now();

  constructor(
    private readonly url: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.fire(), this.intervalMs);
  }

  /** Call times are counted from here (the fault). */
  mark(at = Date.now()): void {
    this.origin = at;
  }

  /** Calls that have ended, `at` in ms after the mark (negative: before it). */
  get calls(): Call[] {
    return this.made.map((call) => ({ ...call, at: call.at - this.origin }));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }

  /** Calls started in [from, to) ms relative to the mark. */
  between(from: number, to: number): Call[] {
    return this.calls.filter((call) => call.at >= from && call.at < to);
  }

  private fire(): void {
    const at = Date.now();
    const done = httpGet(`${this.url}/fib/10`, 15_000).then(
      (answer: HttpAnswer) => {
        const code = typeof answer.body.code === 'string' ? answer.body.code : undefined;
        this.made.push({ at, status: answer.status, code, ms: answer.ms });
      },
      () => {
        this.made.push({ at, status: 0, code: 'NO ANSWER', ms: 15_000 });
      },
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }
}

/** Polls `probe` every 100 ms until it is true; resolves with ms since `since`. */
async function timeUntil(since: number, probe: () => Promise<boolean>, limitMs: number, what: string): Promise<number> {
  await waitFor(probe, limitMs, what);
  return Date.now() - since;
}

const status = async (url: string): Promise<number> => (await httpGet(url, 5000).catch(() => ({ status: 0 }))).status;

export function tallyCalls(calls: Call[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status: s, code } of calls) {
    const key = code === undefined ? String(s) : `${s} ${code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function gatewayMetric(url: string, series: string): Promise<number> {
  return sample(await (await fetch(`${url}/metrics`)).text(), series);
}

async function startWorker(env: Record<string, string>): Promise<{ worker: AppProcess; health: string }> {
  const worker = new AppProcess('fib-worker', env);
  try {
    const health = `${(await worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/, 60_000))[1]}/health`;
    await worker.waitForOutput(/consuming /, 60_000);
    return { worker, health };
  } catch (error) {
    await worker.stop();
    throw error;
  }
}

async function startGateway(env: Record<string, string>): Promise<{ gateway: AppProcess; url: string }> {
  const gateway = new AppProcess('gateway', env);
  try {
    const url = await gateway.httpUrl(60_000);
    await waitFor(async () => (await status(`${url}/fib/1`)) === 200, 30_000, 'gateway serving');
    return { gateway, url };
  } catch (error) {
    await gateway.stop();
    throw error;
  }
}

// ---------------------------------------------------------------- scenario 1

export interface GatewaySilentResult {
  /** Freeze → /health first 503. */
  healthDownMs: number;
  /** Freeze → end of the first call answered 503 in under 1 s. */
  fast503Ms: number;
  /** Thaw → first /fib 200. */
  recoveryMs: number;
  /** Calls started between /health 503 and the thaw. */
  duringOutage: Call[];
  /** Every call of the run. */
  calls: Call[];
  silentDrops: number;
  output: string;
}

/** The gateway's link goes silent (its proxy freezes, sockets kept open); one worker on the broker directly. */
export async function gatewaySilent(thawAfterMs = 12_000): Promise<GatewaySilentResult> {
  const queue = uniqueQueue('silent-gw');
  const proxy = await TcpProxy.start();
  const apps: AppProcess[] = [];
  let load: SteadyLoad | undefined;
  try {
    const { worker } = await startWorker({ AMQP_URL, RPC_QUEUE: queue });
    apps.push(worker);
    const { gateway, url } = await startGateway({ AMQP_URL: proxy.url, RPC_QUEUE: queue });
    apps.push(gateway);
    load = new SteadyLoad(url, 100);
    load.start();
    await sleep(2000);
    const frozenAt = Date.now();
    load.mark(frozenAt);
    proxy.freeze();
    const healthDownMs = await timeUntil(
      frozenAt,
      async () => (await status(`${url}/health`)) === 503,
      20_000,
      'health 503',
    );
    await waitFor(() => load!.calls.some((c) => c.status === 503 && c.ms < 1000 && c.at >= 0), 10_000, 'a fast 503');
    const fast = load.calls.filter((c) => c.status === 503 && c.ms < 1000 && c.at >= 0);
    const fast503Ms = Math.min(...fast.map((c) => c.at + c.ms));
    await sleep(Math.max(0, frozenAt + thawAfterMs - Date.now()));
    const thawedAt = Date.now();
    proxy.thaw();
    const recoveryMs = await timeUntil(
      thawedAt,
      async () => (await status(`${url}/fib/10`)) === 200,
      30_000,
      'service back',
    );
    await sleep(1000);
    await load.stop();
    return {
      healthDownMs,
      fast503Ms,
      recoveryMs,
      duringOutage: load.between(healthDownMs, thawedAt - frozenAt),
      calls: load.calls,
      silentDrops: await gatewayMetric(url, 'fib_gateway_broker_silent_link_drops_total'),
      output: gateway.output,
    };
  } finally {
    await load?.stop();
    for (const app of apps) await app.stop();
    await proxy.cut();
    await deleteQueues(queue);
  }
}

// ---------------------------------------------------------------- scenario 2

export interface WorkerSilentResult {
  /** Freeze → the broker shows one consumer (it gave up on the silent worker). */
  brokerGaveUpMs: number;
  /** Freeze → the silent worker's /health first 503 (its own heartbeat noticed). */
  workerDownMs: number;
  /** Freeze → start of the first call after which every call (until the thaw) was 200. */
  allOkAfterMs: number;
  /** Calls started between the freeze and the thaw, and how many of them failed. */
  duringFreeze: Call[];
  failed: number;
  /** Thaw → the silent worker's /health 200 again, and the broker back at 2 consumers. */
  workerBackMs: number;
  consumersBackMs: number;
  calls: Call[];
  workerOutput: string;
}

/** Two workers, each behind its own proxy; one proxy freezes under light steady load (20 req/s). */
export async function workerSilent(thawAfterMs = 20_000): Promise<WorkerSilentResult> {
  const queue = uniqueQueue('silent-wk');
  const proxies = [await TcpProxy.start(), await TcpProxy.start()];
  const apps: AppProcess[] = [];
  let load: SteadyLoad | undefined;
  try {
    const silent = await startWorker({ AMQP_URL: proxies[0].url, RPC_QUEUE: queue });
    apps.push(silent.worker);
    const other = await startWorker({ AMQP_URL: proxies[1].url, RPC_QUEUE: queue });
    apps.push(other.worker);
    await waitFor(async () => (await consumerCount(queue)) === 2, 10_000, 'two consumers');
    const { gateway, url } = await startGateway({ AMQP_URL, RPC_QUEUE: queue });
    apps.push(gateway);
    load = new SteadyLoad(url, 50);
    load.start();
    await sleep(3000);
    const frozenAt = Date.now();
    load.mark(frozenAt);
    proxies[0].freeze();
    let workerDownMs = Number.NaN;
    const watchWorker = timeUntil(
      frozenAt,
      async () => (await status(silent.health)) === 503,
      thawAfterMs,
      'worker 503',
    ).then(
      (ms) => (workerDownMs = ms),
      () => undefined,
    );
    const brokerGaveUpMs = await timeUntil(
      frozenAt,
      async () => (await consumerCount(queue)) === 1,
      thawAfterMs,
      'one consumer',
    );
    await watchWorker;
    await sleep(Math.max(0, frozenAt + thawAfterMs - Date.now()));
    const thawedAt = Date.now();
    proxies[0].thaw();
    const workerBackMs = await timeUntil(
      thawedAt,
      async () => (await status(silent.health)) === 200,
      30_000,
      'worker 200',
    );
    const consumersBackMs = await timeUntil(
      thawedAt,
      async () => (await consumerCount(queue)) === 2,
      30_000,
      'two consumers',
    );
    await sleep(2000);
    await load.stop();
    // Calls that started before the thaw have ended by now (deadline 5 s).
    const duringFreeze = load.between(0, thawedAt - frozenAt);
    const failures = duringFreeze.filter((c) => c.status !== 200);
    const lastFailure = failures.length === 0 ? 0 : Math.max(...failures.map((c) => c.at));
    return {
      brokerGaveUpMs,
      workerDownMs,
      allOkAfterMs: lastFailure,
      duringFreeze,
      failed: failures.length,
      workerBackMs,
      consumersBackMs,
      calls: load.calls,
      workerOutput: silent.worker.output,
    };
  } finally {
    await load?.stop();
    for (const app of apps) await app.stop();
    for (const proxy of proxies) await proxy.cut();
    await deleteQueues(queue);
  }
}

// ---------------------------------------------------------------- scenario 3

export interface FrozenNodeResult {
  healthDownMs: number;
  fast503Ms: number;
  /** Thaw → first /fib 200, and → the worker's /health 200. */
  recoveryMs: number;
  workerBackMs: number;
  duringOutage: Call[];
  calls: Call[];
  /** Gateway log lines saying a connection attempt was abandoned after AMQP_CONNECT_TIMEOUT_MS, during the freeze. */
  abandonedAttemptLines: number;
  output: string;
}

/** A private broker node, gateway and worker on it, frozen (SIGSTOP) for `freezeMs`. The node is the caller's. */
export async function frozenNode(node: PrivateNode, freezeMs = 25_000): Promise<FrozenNodeResult> {
  const queue = uniqueQueue('silent-node');
  const apps: AppProcess[] = [];
  let load: SteadyLoad | undefined;
  try {
    const { worker, health } = await startWorker({ AMQP_URL: node.url, RPC_QUEUE: queue });
    apps.push(worker);
    const { gateway, url } = await startGateway({ AMQP_URL: node.url, RPC_QUEUE: queue });
    apps.push(gateway);
    load = new SteadyLoad(url, 200);
    load.start();
    await sleep(2000);
    const frozenAt = Date.now();
    load.mark(frozenAt);
    node.freeze();
    let thawedAt = 0;
    try {
      const healthDownMs = await timeUntil(
        frozenAt,
        async () => (await status(`${url}/health`)) === 503,
        20_000,
        'health 503',
      );
      await waitFor(() => load!.calls.some((c) => c.status === 503 && c.ms < 1000 && c.at >= 0), 10_000, 'a fast 503');
      const fast503Ms = Math.min(
        ...load.calls.filter((c) => c.status === 503 && c.ms < 1000 && c.at >= 0).map((c) => c.at + c.ms),
      );
      await sleep(Math.max(0, frozenAt + freezeMs - Date.now()));
      const outputAtThaw = gateway.output;
      thawedAt = Date.now();
      node.thaw();
      const recoveryMs = await timeUntil(
        thawedAt,
        async () => (await status(`${url}/fib/10`)) === 200,
        30_000,
        'service back',
      );
      const workerBackMs = await timeUntil(thawedAt, async () => (await status(health)) === 200, 30_000, 'worker 200');
      await sleep(1000);
      await load.stop();
      return {
        healthDownMs,
        fast503Ms,
        recoveryMs,
        workerBackMs,
        duringOutage: load.between(healthDownMs, thawedAt - frozenAt),
        calls: load.calls,
        abandonedAttemptLines: (outputAtThaw.match(/no AMQP handshake within 3000 ms/g) ?? []).length,
        output: gateway.output,
      };
    } finally {
      if (thawedAt === 0) node.thaw();
    }
  } finally {
    await load?.stop();
    for (const app of apps) await app.stop();
  }
}

// ---------------------------------------------------------------- scenario 4

export interface AlarmResult {
  /** `rabbitmqctl set_vm_memory_high_watermark` started → returned (the alarm is on), and → first answer 503 FLOW_CONTROL. */
  alarmSetMs: number;
  blockedMs: number;
  /** Calls started from then until the load stopped (just before the alarm was cleared), and all calls. */
  duringAlarm: Call[];
  calls: Call[];
  healthDuringAlarm: HttpAnswer;
  /** `rabbitmqctl` clearing the alarm started → returned; then → gateway /health 200; then one /fib call's status. */
  clearSetMs: number;
  recoveryMs: number;
  afterStatus: number;
  /** Worker's fib_worker_requests_total{ok}: at the alarm, once the load stopped (alarm still on), 5 s after clearing it. */
  computedAtAlarm: number;
  computedAtClear: number;
  computedAfter: number;
  /** Calls answered 200 that ended after the alarm went on (each computed once). */
  answeredDuringAlarm: number;
  /** Worker's fib_worker_requests_expired_total at the end: requests that arrived after their caller gave up. */
  expired: number;
  silentDrops: number;
  output: string;
}

/** A memory alarm on a private node (the broker blocks publishers) for `alarmMs`, light load. The node is the caller's. */
export async function memoryAlarm(node: PrivateNode, alarmMs = 12_000): Promise<AlarmResult> {
  const queue = uniqueQueue('silent-alarm');
  const apps: AppProcess[] = [];
  let load: SteadyLoad | undefined;
  let alarmOn = false;
  try {
    const { worker, health } = await startWorker({ AMQP_URL: node.url, RPC_QUEUE: queue });
    apps.push(worker);
    const workerMetrics = health.replace(/\/health$/, '/metrics');
    const workerSample = async (series: string): Promise<number> =>
      sample(await (await fetch(workerMetrics)).text(), series);
    // Counted when computed (requests_total counts a request once its reply is confirmed, which waits for the alarm).
    const computed = (): Promise<number> => workerSample('fib_worker_compute_seconds_count{n_bucket="n<1e3"}');
    const { gateway, url } = await startGateway({ AMQP_URL: node.url, RPC_QUEUE: queue });
    apps.push(gateway);
    load = new SteadyLoad(url, 200);
    load.start();
    await sleep(2000);
    const computedAtAlarm = await computed();
    const alarmAt = Date.now();
    load.mark(alarmAt);
    alarmOn = true;
    await node.memoryAlarm(true);
    const alarmSetMs = Date.now() - alarmAt;
    const blockedMs = await timeUntil(
      alarmAt,
      () => Promise.resolve(load!.calls.some((c) => c.code === 'FLOW_CONTROL')),
      15_000,
      'a FLOW_CONTROL answer',
    );
    await sleep(Math.max(0, alarmAt + alarmMs - Date.now()));
    const healthDuringAlarm = await httpGet(`${url}/health`, 5000);
    // Every caller has its answer before the alarm clears: whatever the worker computes later was sent for nobody.
    await load.stop();
    const stoppedAt = Date.now();
    const computedAtClear = await computed();
    const clearedAt = Date.now();
    await node.memoryAlarm(false);
    alarmOn = false;
    const clearSetMs = Date.now() - clearedAt;
    const recoveryMs = await timeUntil(
      clearedAt + clearSetMs,
      async () => (await status(`${url}/health`)) === 200,
      20_000,
      'health back',
    );
    await sleep(Math.max(0, clearedAt + 5000 - Date.now()));
    const computedAfter = await computed();
    const afterStatus = await status(`${url}/fib/10`);
    const calls = load.calls;
    return {
      alarmSetMs,
      blockedMs,
      duringAlarm: load.between(blockedMs, stoppedAt - alarmAt),
      calls,
      healthDuringAlarm,
      clearSetMs,
      recoveryMs,
      afterStatus,
      computedAtAlarm,
      computedAtClear,
      computedAfter,
      answeredDuringAlarm: calls.filter((c) => c.status === 200 && c.at + c.ms >= 0).length,
      expired: await workerSample('fib_worker_requests_expired_total'),
      silentDrops: await gatewayMetric(url, 'fib_gateway_broker_silent_link_drops_total'),
      output: gateway.output,
    };
  } finally {
    if (alarmOn) await node.memoryAlarm(false).catch(() => undefined);
    await load?.stop();
    for (const app of apps) await app.stop();
  }
}

// ---------------------------------------------------------------- the measuring script

function stats(values: number[]): string {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return 'n/a';
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
  return `${(median / 1000).toFixed(1)} s / ${(sorted[sorted.length - 1] / 1000).toFixed(1)} s`;
}

const pct = (part: number, whole: number): string => `${((100 * part) / Math.max(1, whole)).toFixed(1)} %`;

async function main(): Promise<void> {
  const runs = Number(process.env.SILENT_RUNS ?? 5);
  const workerRuns = Number(process.env.SILENT_RUNS_WORKER ?? Math.min(runs, 3));
  const scenarios = (process.env.SILENT_SCENARIOS ?? 'gateway,worker,node').split(',');
  const rows: string[][] = [];
  const maxCall = (calls: Call[]): number => Math.max(...calls.map((c) => c.ms));

  if (scenarios.includes('gateway')) {
    const results: GatewaySilentResult[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await gatewaySilent();
      results.push(r);
      console.log(
        `gateway link silent #${i + 1}: health 503 after ${r.healthDownMs} ms, fast 503 after ${r.fast503Ms} ms, back ${r.recoveryMs} ms after thaw, slowest call ${maxCall(r.calls)} ms, ${JSON.stringify(tallyCalls(r.calls))}`,
      );
    }
    rows.push(['gateway link silent: freeze → /health 503', stats(results.map((r) => r.healthDownMs))]);
    rows.push(['gateway link silent: freeze → first fast 503', stats(results.map((r) => r.fast503Ms))]);
    rows.push(['gateway link silent: thaw → first 200', stats(results.map((r) => r.recoveryMs))]);
    rows.push(['gateway link silent: slowest call (deadline 5 s)', stats(results.map((r) => maxCall(r.calls)))]);
  }
  if (scenarios.includes('worker')) {
    const results: WorkerSilentResult[] = [];
    for (let i = 0; i < workerRuns; i++) {
      const r = await workerSilent();
      results.push(r);
      console.log(
        `one worker silent #${i + 1}: broker gave up after ${r.brokerGaveUpMs} ms, worker 503 after ${r.workerDownMs} ms, all 200 from ${r.allOkAfterMs} ms, ${r.failed}/${r.duringFreeze.length} failed (${pct(r.failed, r.duringFreeze.length)}) ${JSON.stringify(tallyCalls(r.duringFreeze))}, worker back ${r.workerBackMs} ms / 2 consumers ${r.consumersBackMs} ms after thaw`,
      );
    }
    rows.push(['one worker silent: freeze → broker drops its consumer', stats(results.map((r) => r.brokerGaveUpMs))]);
    rows.push(['one worker silent: freeze → its /health 503', stats(results.map((r) => r.workerDownMs))]);
    rows.push(['one worker silent: freeze → every call 200 again', stats(results.map((r) => r.allOkAfterMs))]);
    rows.push([
      'one worker silent: calls failed during a 20 s freeze (median / max)',
      `${stats(results.map((r) => (100_000 * r.failed) / Math.max(1, r.duringFreeze.length))).replace(/ s/g, ' %')}`,
    ]);
    rows.push(['one worker silent: thaw → 2 consumers again', stats(results.map((r) => r.consumersBackMs))]);
  }
  if (scenarios.includes('node')) {
    const node = await PrivateNode.start({ name: `fibrpcsilm${process.pid}` });
    try {
      const results: FrozenNodeResult[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await frozenNode(node);
        results.push(r);
        console.log(
          `node frozen 25 s #${i + 1}: health 503 after ${r.healthDownMs} ms, fast 503 after ${r.fast503Ms} ms, back ${r.recoveryMs} ms after thaw (worker ${r.workerBackMs} ms), ${r.abandonedAttemptLines} abandoned attempt line(s), slowest call ${maxCall(r.calls)} ms, ${JSON.stringify(tallyCalls(r.calls))}`,
        );
      }
      rows.push(['node frozen: freeze → /health 503', stats(results.map((r) => r.healthDownMs))]);
      rows.push(['node frozen: freeze → first fast 503', stats(results.map((r) => r.fast503Ms))]);
      rows.push(['node frozen: thaw → first 200', stats(results.map((r) => r.recoveryMs))]);
      rows.push(['node frozen: thaw → worker /health 200', stats(results.map((r) => r.workerBackMs))]);
      rows.push(['node frozen: slowest call (deadline 5 s)', stats(results.map((r) => maxCall(r.calls)))]);
    } finally {
      await node.stop();
    }
  }
  console.log('\n| measure | median / max |\n| --- | --- |');
  for (const [key, value] of rows) console.log(`| ${key} | ${value} |`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
