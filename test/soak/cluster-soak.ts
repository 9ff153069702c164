/**
 * The soak's cluster mode (`SOAK_MODE=cluster npm run soak`, or on its own:
 * `npm run build && node -r ts-node/register/transpile-only -r tsconfig-paths/register test/soak/cluster-soak.ts`):
 * a private 3-node RabbitMQ cluster on loopback, the built gateway and two workers given all three nodes,
 * steady HTTP load through the gateway while nodes are killed (SIGKILL) and frozen (SIGSTOP) in rotation —
 * the gateway's node, a workers' node, the quorum queue leader's node, a frozen node — each brought back
 * and the cluster made whole before the next. Then a table of outcomes, and per node loss the calls that failed.
 * Hung answers and wrong answers must both be 0 (exit status 1 otherwise).
 *
 * SOAK_SECONDS (default 180), SOAK_RATE (calls a second, default 80), RPC_TIMEOUT_MS of the gateway 5000.
 */
import { fib } from '@app/fib';
import { sleep } from '../support/broker';
import { CallRecord, HttpLoad, summarize } from '../support/cluster-load';
import { ClusterRig } from '../support/cluster-rig';
import { PrivateNode } from '../support/private-node';

const DEADLINE_MS = 5000;
const HUNG_MS = DEADLINE_MS * 2;
const MAX_N = 3000;
/** How long load runs after a fault before the node is brought back. */
const FAULT_MS = 8000;

type FaultKind =
  | "gateway's node killed"
  | "a workers' node killed"
  | "queue leader's node killed"
  | "gateway's and leader's node killed"
  | 'a node frozen';
const ROTATION: FaultKind[] = [
  "gateway's node killed",
  "a workers' node killed",
  "queue leader's node killed",
  "gateway's and leader's node killed",
  'a node frozen',
];

interface FaultRecord {
  kind: FaultKind;
  node: string;
  on: string;
  at: number;
  /** Calls started from this fault to the next one (or the end). */
  until: number;
}

async function pickVictim(rig: ClusterRig, kind: FaultKind): Promise<PrivateNode> {
  const gatewayOn = await rig.gatewayNode();
  switch (kind) {
    case "a workers' node killed": {
      const onWorkers = (await rig.workerNodes()).filter((node): node is PrivateNode => node !== undefined);
      return onWorkers.find((node) => node !== gatewayOn) ?? onWorkers[0] ?? rig.nodes[1];
    }
    case "queue leader's node killed":
      return (await rig.leaderNode()) ?? rig.nodes[2];
    case "gateway's and leader's node killed": {
      const victim = gatewayOn ?? rig.nodes[0];
      await rig.cluster.moveQueueLeader(rig.queue, victim);
      return victim;
    }
    default:
      // the gateway's node, killed or frozen (a frozen one is a silent link for the gateway)
      return gatewayOn ?? rig.nodes[0];
  }
}

/** Runs the cluster soak and prints its table; resolves true when it passed (0 hung, 0 wrong, every call settled). */
export async function runClusterSoak(): Promise<boolean> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 180);
  const rate = Number(process.env.SOAK_RATE ?? 80);
  const expected = Array.from({ length: MAX_N + 1 }, (_, n) => fib(n).toString());
  const rig = await ClusterRig.start({ deadlineMs: DEADLINE_MS });
  const faults: FaultRecord[] = [];
  let load: HttpLoad | undefined;
  let records: CallRecord[] = [];
  let started = 0;
  let rigError: string | undefined;
  try {
    load = new HttpLoad({
      url: rig.url,
      rate,
      hungMs: HUNG_MS,
      next: () => {
        const n = Math.floor(Math.random() * (MAX_N + 1));
        return { path: `/fib/${n}`, expected: expected[n] };
      },
    }).start();
    started = Date.now();
    await sleep(3000);
    let step = 0;
    while (Date.now() - started < seconds * 1000 && rigError === undefined) {
      const kind = ROTATION[step++ % ROTATION.length];
      const victim = await pickVictim(rig, kind);
      const on = await rig.appsOn(victim);
      const at = Date.now();
      if (faults.length > 0) faults[faults.length - 1].until = at;
      faults.push({ kind, node: victim.nodeName, on, at, until: Number.POSITIVE_INFINITY });
      if (kind === 'a node frozen') {
        victim.freeze();
        await sleep(FAULT_MS + 2000);
        victim.thaw();
        // a thawed node comes back from a partition; a clean restart makes the cluster whole again
        await victim.kill();
      } else {
        await victim.kill();
        await sleep(FAULT_MS);
      }
      await rig.restore(victim);
      await sleep(2000);
    }
  } catch (error) {
    // the harness itself failed (a node that would not come back, say): still print what was measured
    rigError = error instanceof Error ? error.message.split('\n')[0] : String(error);
  } finally {
    records = (await load?.stop()) ?? [];
    await rig.stop();
  }

  const total = summarize(records, started);
  const settled = records.length;
  const rows: string[][] = [
    [
      'duration',
      `${Math.round((Date.now() - started) / 1000)} s (SOAK_SECONDS=${seconds}), ${rate} calls/s, n in 0..${MAX_N}, RPC_TIMEOUT_MS=${DEADLINE_MS}`,
    ],
    ['cluster', `3 RabbitMQ nodes on loopback, net_ticktime 10; gateway + 2 workers; up in ${rig.bootMs} ms`],
    ['faults injected', `${faults.length} (${[...new Set(faults.map((fault) => fault.kind))].join(', ')})`],
    ['calls made', String(settled + (load?.skipped ?? 0))],
    ['calls settled', String(settled)],
    ['answered correctly', String(total.ok)],
    ...Object.entries(total.failed)
      .filter(([key]) => key !== '0 HUNG' && key !== '200 WRONG')
      .sort()
      .map(([key, value]) => [`failed ${key}`, String(value)]),
    ['hung (must be 0)', String(total.hung)],
    ['wrong answers (must be 0)', String(total.wrong)],
    ['max latency', `${total.maxLatencyMs} ms (p99 ${total.p99LatencyMs} ms)`],
    ['slowest /health answer (harness)', `${rig.slowestHealthMs} ms`],
    ...(rigError === undefined ? [] : [['HARNESS ERROR (soak fails)', rigError]]),
  ];
  console.log('\n| measure | value |\n| --- | --- |');
  for (const [key, value] of rows) console.log(`| ${key} | ${value} |`);

  console.log(
    '\n| # | node loss | on that node | calls | failed (by code) | max latency | recovery |\n| --- | --- | --- | --- | --- | --- | --- |',
  );
  faults.forEach((fault, i) => {
    const window = records.filter((record) => record.start >= fault.at && record.start < fault.until);
    const stats = summarize(window, fault.at);
    const failed = Object.entries(stats.failed)
      .map(([key, value]) => `${value} × ${key}`)
      .join(', ');
    const recovery = stats.recoveryMs === undefined ? 'never' : `${stats.recoveryMs} ms`;
    console.log(
      `| ${i + 1} | ${fault.kind} | ${fault.on} | ${stats.calls} | ${failed || '0'} | ${stats.maxLatencyMs} ms | ${recovery} |`,
    );
  });
  const ok = total.hung === 0 && total.wrong === 0 && (load?.skipped ?? 0) === 0 && rigError === undefined;
  console.log(ok ? '\ncluster soak passed' : '\nCLUSTER SOAK FAILED');
  return ok;
}

if (require.main === module) {
  runClusterSoak().then(
    (ok) => process.exit(ok ? 0 : 1),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
