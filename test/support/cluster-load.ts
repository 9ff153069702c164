import { Agent, request } from 'node:http';
import { sleep } from './broker';

/** One HTTP call of a load run: when it started and ended (epoch ms), and how it ended. */
export interface CallRecord {
  start: number;
  end: number;
  /** HTTP status, or 0 when the call got no HTTP answer (HUNG: over the hung limit; or a socket error). */
  status: number;
  /** The error body's `code` (e.g. CONNECTION_LOST), `HUNG`, `SOCKET <message>` or `WRONG` (200 with a wrong value). */
  code?: string;
}

export interface LoadOptions {
  /** Base URL of the gateway. */
  url: string;
  /** Calls started per second (a fixed schedule, not closed-loop: a stall does not slow the offered load). */
  rate: number;
  /** The path called, and the body value expected with its 200. @default /fib/30 → 832040 */
  path?: string;
  expected?: string;
  /** A call with no answer after this long is HUNG (and abandoned). */
  hungMs: number;
  /** Calls in flight at most; a start that would exceed it is skipped and counted. @default 1000 */
  maxInFlight?: number;
  /** Each call's path and expected value (e.g. a random n); overrides path/expected. */
  next?: () => { path: string; expected: string };
}

/**
 * A bounded open-loop HTTP load: `rate` calls a second on a fixed schedule through a keep-alive agent,
 * every call bounded by `hungMs`, each recorded with its start, end and outcome.
 */
export class HttpLoad {
  readonly records: CallRecord[] = [];
  skipped = 0;
  private running = false;
  private inFlight = 0;
  private loop: Promise<void> = Promise.resolve();
  private readonly settled = new Set<Promise<void>>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1000 });

  constructor(private readonly options: LoadOptions) {}

  start(): this {
    this.running = true;
    this.loop = this.run();
    return this;
  }

  /** Stops starting calls and waits for every call in flight (each bounded by hungMs). */
  async stop(): Promise<CallRecord[]> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.settled]);
    this.agent.destroy();
    return this.records;
  }

  private async run(): Promise<void> {
    const interval = 1000 / this.options.rate;
    const begun = Date.now();
    let sent = 0;
    while (this.running) {
      const due = begun + sent * interval;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (!this.running) break;
      sent++;
      if (this.inFlight >= (this.options.maxInFlight ?? 1000)) {
        this.skipped++;
        continue;
      }
      const call = this.call();
      this.settled.add(call);
      void call.finally(() => this.settled.delete(call));
    }
  }

  private call(): Promise<void> {
    const { url, hungMs } = this.options;
    const { path, expected } = this.options.next?.() ?? {
      path: this.options.path ?? '/fib/30',
      expected: this.options.expected ?? '832040',
    };
    const record: CallRecord = { start: Date.now(), end: 0, status: 0 };
    this.inFlight++;
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (status: number, code?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        record.end = Date.now();
        record.status = status;
        if (code !== undefined) record.code = code;
        this.records.push(record);
        this.inFlight--;
        resolve();
      };
      const req = request(`${url}${path}`, { agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => finish(0, `SOCKET ${error.message}`));
        res.on('end', () => {
          let body: { value?: string; code?: string } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString()) as typeof body;
          } catch {
            // a body that is not JSON keeps its status and gets no code
          }
          const status = res.statusCode ?? 0;
          if (status === 200) finish(200, body.value === expected ? undefined : 'WRONG');
          else finish(status, body.code);
        });
      });
      const timer = setTimeout(() => {
        finish(0, 'HUNG');
        req.destroy();
      }, hungMs);
      req.on('error', (error) => finish(0, `SOCKET ${error.message}`));
      req.end();
    });
  }
}

/** The numbers of one scenario (see summarize). */
export interface ScenarioStats {
  calls: number;
  ok: number;
  /** Failed calls by `status code` (e.g. `503 CONNECTION_LOST`, `504 TIMEOUT`, `0 HUNG`). */
  failed: Record<string, number>;
  failedTotal: number;
  wrong: number;
  hung: number;
  maxLatencyMs: number;
  p99LatencyMs: number;
  /** From the fault to the end of the first of `streak` consecutive 200s among calls started after it; undefined if never. */
  recoveryMs: number | undefined;
}

/**
 * Counts by outcome and latencies of a load run; recovery measured from `faultAt` as the end of the first
 * call of the first run of `streak` consecutive 200s (calls in start order) started at or after the fault.
 */
export function summarize(records: CallRecord[], faultAt: number, streak = 20): ScenarioStats {
  const failed: Record<string, number> = {};
  let ok = 0;
  let wrong = 0;
  let hung = 0;
  for (const record of records) {
    if (record.status === 200 && record.code === undefined) ok++;
    else {
      if (record.code === 'WRONG') wrong++;
      if (record.code === 'HUNG') hung++;
      const key = `${record.status} ${record.code ?? ''}`.trim();
      failed[key] = (failed[key] ?? 0) + 1;
    }
  }
  const latencies = records.map((record) => record.end - record.start).sort((a, b) => a - b);
  const after = records.filter((record) => record.start >= faultAt).sort((a, b) => a.start - b.start);
  let recoveryMs: number | undefined;
  let run = 0;
  for (let i = 0; i < after.length; i++) {
    run = after[i].status === 200 && after[i].code === undefined ? run + 1 : 0;
    if (run === streak) {
      recoveryMs = Math.max(0, after[i - streak + 1].end - faultAt);
      break;
    }
  }
  return {
    calls: records.length,
    ok,
    failed,
    failedTotal: records.length - ok,
    wrong,
    hung,
    maxLatencyMs: latencies.at(-1) ?? 0,
    p99LatencyMs: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    recoveryMs,
  };
}

/** One markdown row of a scenario's numbers. */
export function statsRow(name: string, stats: ScenarioStats, note = ''): string {
  const failed = Object.entries(stats.failed)
    .map(([key, value]) => `${value} × ${key}`)
    .join(', ');
  const recovery = stats.recoveryMs === undefined ? 'never' : `${stats.recoveryMs} ms`;
  return `| ${name} | ${stats.calls} | ${stats.ok} | ${failed || '0'} | ${stats.maxLatencyMs} ms | ${recovery} | ${note} |`;
}

export const STATS_HEADER =
  '| scenario | calls | ok | failed (by code) | max latency | recovery | on the node |\n| --- | --- | --- | --- | --- | --- | --- |';
