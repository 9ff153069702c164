/**
 * Both built apps, each behind a TcpProxy of its own, and the means to drive
 * one app's broker link through resets after chosen byte offsets and judge
 * what it does afterwards. Used by test/fault/chaos.fault-spec.ts (a
 * representative subset) and test/chaos/sweep.ts (`npm run chaos`, every
 * interesting offset).
 */
import { FrameRecord } from './amqp-frames';
import { AppProcess } from './app-process';
import { deleteQueues, sleep, uniqueQueue } from './broker';
import { httpGet, HttpAnswer } from './http';
import { ConnectionTrace, TcpProxy } from './tcp-proxy';

export type ChaosApp = 'gateway' | 'fib-worker';

export interface ChaosCase {
  app: ChaosApp;
  /** Broker bytes after which each of the next connections is reset: one entry per consecutive connection. */
  cuts: number[];
  /** Start the app afresh into the cuts (its first connect) instead of dropping its live link (a reconnect). */
  fresh?: boolean;
  label?: string;
}

/** One back-to-back pair of gateway calls: /health, then /fib/30. */
export interface Sample {
  startedAt: number;
  endedAt: number;
  health: number;
  fib: number;
  fibCode: string | undefined;
  fibValue: string | undefined;
}

export interface ChaosResult {
  chaosCase: ChaosCase;
  /** Cuts the proxy actually made (fewer than asked if the app never got that far). */
  cutsMade: number;
  /** ms from the last cut (or from giving up on the rest) until the app served again; undefined if it did not. */
  recoveredMs: number | undefined;
  /** Samples in which /health said 200 and the very next /fib said the link was lost, with no link event near. */
  lies: Sample[];
  /** Exit of the app under test during the case, with the tail of its output. */
  crash: string | undefined;
  failures: string[];
}

/** Codes that say "the gateway has no broker link": /health must not have said 200 just before. */
const LINK_DOWN_CODES = new Set(['BROKER_UNAVAILABLE', 'CONNECTION_LOST']);
/** A link event this close before a sample may not have been noticed by the gateway at /health time yet. */
const NOTICE_SLACK_MS = 1000;
export const RECOVERY_LIMIT_MS = 20_000;
/** Nest start-up on a busy 2-core machine. */
const START_LIMIT_MS = 30_000;
/** How long the cuts may take to happen: each needs a reconnect, which backs off. */
const CUTS_LIMIT_MS = 15_000;

export class ChaosRig {
  readonly queue = uniqueQueue('chaos');
  gateway!: AppProcess;
  worker!: AppProcess;
  gatewayUrl = '';
  workerHealthUrl = '';
  readonly proxies: Record<ChaosApp, TcpProxy>;
  /** Exits seen, for the report. */
  readonly crashes: string[] = [];
  private wedged: ChaosApp | undefined;

  private constructor(gatewayProxy: TcpProxy, workerProxy: TcpProxy) {
    this.proxies = { gateway: gatewayProxy, 'fib-worker': workerProxy };
  }

  static async start(): Promise<ChaosRig> {
    const rig = new ChaosRig(await TcpProxy.start(), await TcpProxy.start());
    await rig.startApp('fib-worker');
    await rig.startApp('gateway');
    await rig.waitServing(RECOVERY_LIMIT_MS);
    return rig;
  }

  /** The first connection of each app: its handshake frames, measured through the proxy. */
  handshake(app: ChaosApp): ConnectionTrace {
    return this.proxies[app].traces[0];
  }

  async stop(): Promise<void> {
    await this.gateway?.stop();
    await this.worker?.stop();
    for (const proxy of Object.values(this.proxies)) await proxy.cut();
    await deleteQueues(this.queue);
  }

  async run(chaosCase: ChaosCase): Promise<ChaosResult> {
    const { app, cuts, fresh = false } = chaosCase;
    const proxy = this.proxies[app];
    const failures: string[] = [];
    await this.ensureRunning();
    const firstTrace = proxy.traces.length;
    proxy.clearFaults();
    proxy.faultNext(...cuts.map((bytes) => ({ afterServerBytes: bytes })));

    const samples: Sample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await this.sample());
        await sleep(50);
      }
    })();

    const appUnderTest = app === 'gateway' ? () => this.gateway : () => this.worker;
    if (fresh) {
      await appUnderTest().stop();
      // A crash during start-up is judged below, from the process's exit.
      await this.startApp(app, false).catch((error: Error) => failures.push(`start: ${error.message.split('\n')[0]}`));
    } else {
      proxy.reset();
    }
    const watched = appUnderTest();

    // Done when every planned fault was taken by a connection and has fired (or that connection ended first).
    const settled = (): boolean =>
      proxy.plannedFaults === 0 &&
      proxy.traces
        .slice(firstTrace)
        .every((t) => t.fault === undefined || t.faultedAt !== undefined || t.closedAt !== undefined);
    const cutsDeadline = Date.now() + CUTS_LIMIT_MS;
    while (!settled() && watched.running && Date.now() < cutsDeadline) await sleep(20);
    proxy.clearFaults();
    const made = proxy.traces.slice(firstTrace).filter((t) => t.faultedAt !== undefined).length;
    if (made < cuts.length && watched.running) {
      failures.push(
        `only ${made} of ${cuts.length} cuts happened in ${CUTS_LIMIT_MS} ms (the app stopped connecting?)`,
      );
    }
    await sleep(30); // let the last reset land
    const quietFrom = Date.now();
    let recoveredMs: number | undefined;
    const recoveryDeadline = quietFrom + RECOVERY_LIMIT_MS;
    while (watched.running && Date.now() < recoveryDeadline) {
      if (await this.serving()) {
        recoveredMs = Date.now() - quietFrom;
        break;
      }
      await sleep(100);
    }
    sampling = false;
    await sampler;

    let crash: string | undefined;
    if (!watched.running) {
      const exit = await watched.exited;
      crash = `exited code=${exit.code} signal=${exit.signal}: ${crashSummary(watched.output)}`;
      this.crashes.push(`${app}: ${crash}`);
      failures.push(`${app} ${crash}`);
    } else if (recoveredMs === undefined) {
      const health = await this.healthOf(app);
      failures.push(`${app} not serving ${RECOVERY_LIMIT_MS} ms after the last cut (its /health ${health})`);
      this.wedged = app;
    }
    const lies = this.lies(samples);
    if (lies.length > 0) {
      failures.push(`gateway /health 200 then /fib 503 ${lies[0].fibCode} with no link event near (${lies.length}x)`);
    }
    return { chaosCase, cutsMade: made, recoveredMs, lies, crash, failures };
  }

  /** /fib/30 answered right and both apps' health 200. */
  async serving(): Promise<boolean> {
    if (!this.gateway.running || !this.worker.running) return false;
    const fib = await httpGet(`${this.gatewayUrl}/fib/30`, 5000).catch(() => undefined);
    if (fib?.status !== 200 || fib.body.value !== '832040') return false;
    return (await this.healthOf('gateway')) === 200 && (await this.healthOf('fib-worker')) === 200;
  }

  private async waitServing(limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!(await this.serving())) {
      if (Date.now() > deadline) throw new Error(`apps not serving within ${limitMs} ms\n${this.outputs()}`);
      await sleep(100);
    }
  }

  private async healthOf(app: ChaosApp): Promise<number> {
    const url = app === 'gateway' ? `${this.gatewayUrl}/health` : this.workerHealthUrl;
    return (await httpGet(url, 3000).catch(() => undefined))?.status ?? -1;
  }

  private async sample(): Promise<Sample> {
    const startedAt = Date.now();
    const health = (await httpGet(`${this.gatewayUrl}/health`, 3000).catch(() => undefined))?.status ?? -1;
    const fib: HttpAnswer | undefined = await httpGet(`${this.gatewayUrl}/fib/30`, 8000).catch(() => undefined);
    return {
      startedAt,
      endedAt: Date.now(),
      health,
      fib: fib?.status ?? -1,
      fibCode: typeof fib?.body.code === 'string' ? fib.body.code : undefined,
      fibValue: typeof fib?.body.value === 'string' ? fib.body.value : undefined,
    };
  }

  /**
   * Health said up, the call right after said the link was down, and the
   * gateway's proxy saw no connection reset or closed from a little before the
   * health call to the end of the fib call: the gateway was lying.
   */
  private lies(samples: Sample[]): Sample[] {
    const events = this.proxies.gateway.linkEvents();
    return samples.filter(
      (s) =>
        s.health === 200 &&
        s.fib === 503 &&
        LINK_DOWN_CODES.has(s.fibCode ?? '') &&
        !events.some((at) => at >= s.startedAt - NOTICE_SLACK_MS && at <= s.endedAt),
    );
  }

  /** Restarts what the last case left dead or wedged, so each case starts from a serving pair. */
  private async ensureRunning(): Promise<void> {
    if (!this.worker.running) await this.startApp('fib-worker');
    if (!this.gateway.running) await this.startApp('gateway');
    if (this.wedged !== undefined) {
      await (this.wedged === 'gateway' ? this.gateway : this.worker).stop();
      await this.startApp(this.wedged);
      this.wedged = undefined;
    }
    await this.waitServing(RECOVERY_LIMIT_MS);
  }

  private async startApp(app: ChaosApp, waitReady = true): Promise<void> {
    const env = { AMQP_URL: this.proxies[app].url, RPC_QUEUE: this.queue };
    if (app === 'gateway') {
      this.gateway = new AppProcess('gateway', env);
      this.gatewayUrl = await this.gateway.httpUrl(START_LIMIT_MS);
    } else {
      this.worker = new AppProcess('fib-worker', env);
      const match = await this.worker.waitForOutput(/health at (http:\/\/[\d.:]+\/health)/, START_LIMIT_MS);
      this.workerHealthUrl = match[1];
      if (waitReady) await this.worker.waitForOutput(/consuming /, RECOVERY_LIMIT_MS);
    }
  }

  private outputs(): string {
    return `--- gateway ---\n${tail(this.gateway?.output ?? '')}\n--- worker ---\n${tail(this.worker?.output ?? '')}`;
  }
}

/** The lines of a crash that say what it was (an unhandled 'error' event, the error's first line). */
function crashSummary(output: string): string {
  const lines = output.split('\n').filter((line) => /Unhandled|^\s*\w*Error\b|^\s*(code|errno):/.test(line));
  return (lines.length > 0 ? lines.slice(0, 3) : output.trimEnd().split('\n').slice(-3))
    .map((l) => l.trim())
    .join(' / ');
}

function tail(output: string, lines = 6): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}

/** A byte offset named by the frame it falls in or after, e.g. "channel.open-ok#1 end" or "queue.declare-ok#1 +12". */
export function nameOffset(frames: FrameRecord[], bytes: number): string {
  if (bytes === 0) return 'before connection.start';
  const frame = frames.find((f) => bytes > f.start && bytes <= f.end);
  if (frame === undefined) return `${bytes - (frames.at(-1)?.end ?? 0)} bytes past the trace`;
  const name = `${frame.name}#${frame.channel}`;
  return bytes === frame.end ? `${name} end` : `${name} +${bytes - frame.start}`;
}

/**
 * The first frame from the broker named `name` (and on `channel`, or about `queue`, if given). Select by queue
 * rather than channel where possible: which channel does what is the client's choice.
 */
export function frameOf(
  trace: ConnectionTrace,
  name: string,
  where: { channel?: number; queue?: string } = {},
): FrameRecord {
  const frame = trace.serverFrames.find(
    (f) =>
      f.name === name &&
      (where.channel === undefined || f.channel === where.channel) &&
      (where.queue === undefined || f.queue === where.queue),
  );
  if (frame === undefined)
    throw new Error(`no ${name} ${JSON.stringify(where)} in the trace of connection ${trace.id}`);
  return frame;
}

/** Every offset worth a cut: 0, and for each frame up to and into the first deliveries, 1 byte in, 1 byte short, whole. */
export function everyInterestingOffset(trace: ConnectionTrace, deliveries = 2): number[] {
  const offsets = new Set<number>([0]);
  let delivered = 0;
  for (const frame of trace.serverFrames) {
    if (frame.name === 'basic.deliver' && ++delivered > deliveries) break;
    offsets.add(frame.start + 1);
    offsets.add(frame.end - 1);
    offsets.add(frame.end);
  }
  return [...offsets].sort((a, b) => a - b);
}

/** Prints a trace as offset table rows. */
export function formatTrace(label: string, trace: ConnectionTrace, limit = 20): string {
  const rows = trace.serverFrames.slice(0, limit).map((f) => `  ${String(f.end).padStart(6)}  ${f.name}#${f.channel}`);
  return `${label}: bytes from the broker at the end of each frame\n${rows.join('\n')}`;
}
