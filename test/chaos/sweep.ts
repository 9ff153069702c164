/**
 * `npm run chaos`: the exhaustive fault sweep. Both built apps run behind TCP
 * proxies; for every interesting byte offset B of each app's measured
 * handshake (0; for each frame from connection.start to the first deliveries:
 * 1 byte in, 1 byte short, whole) the app's link is reset after B bytes from
 * the broker, for one connection, then for three in a row, then on a fresh
 * start. After the cuts the app must be alive and serving (/fib/30 = 832040,
 * both healths 200) within 20 s, and the gateway's /health must never have
 * said 200 while its calls failed for want of a link. Prints a table; exit
 * status 1 on any failure.
 *
 * CHAOS_APPS (default "gateway,fib-worker"), CHAOS_MODES (default "single,triple,fresh").
 */
import {
  ChaosApp,
  ChaosCase,
  ChaosResult,
  ChaosRig,
  everyInterestingOffset,
  formatTrace,
  nameOffset,
} from '../support/chaos';

const APPS = (process.env.CHAOS_APPS ?? 'gateway,fib-worker').split(',') as ChaosApp[];
const MODES = (process.env.CHAOS_MODES ?? 'single,triple,fresh').split(',');

function casesFor(app: ChaosApp, offsets: number[]): ChaosCase[] {
  const cases: ChaosCase[] = [];
  for (const mode of MODES) {
    for (const bytes of offsets) {
      if (mode === 'single') cases.push({ app, cuts: [bytes], label: mode });
      if (mode === 'triple') cases.push({ app, cuts: [bytes, bytes, bytes], label: mode });
      if (mode === 'fresh') cases.push({ app, cuts: [bytes, bytes], fresh: true, label: mode });
    }
  }
  return cases;
}

function row(result: ChaosResult, names: (bytes: number) => string): string {
  const { chaosCase, cutsMade, recoveredMs, failures } = result;
  const cuts = `${chaosCase.cuts.length}x ${chaosCase.cuts[0]} (${names(chaosCase.cuts[0])})`;
  const outcome = failures.length === 0 ? `ok, serving after ${recoveredMs} ms` : `FAIL: ${failures.join('; ')}`;
  return [
    chaosCase.app.padEnd(10),
    (chaosCase.label ?? '').padEnd(6),
    cuts.padEnd(44),
    String(cutsMade).padEnd(4),
    outcome,
  ]
    .join(' | ')
    .replace(/\n/g, ' ⏎ ');
}

async function main(): Promise<void> {
  const rig = await ChaosRig.start();
  const results: ChaosResult[] = [];
  try {
    for (const app of APPS) {
      const trace = rig.handshake(app);
      console.log(formatTrace(`${app} (connection ${trace.id})`, trace));
      const names = (bytes: number): string => nameOffset(trace.serverFrames, bytes);
      const offsets = everyInterestingOffset(trace);
      console.log(`${app}: ${offsets.length} offsets: ${offsets.join(' ')}\n`);
      console.log(['app'.padEnd(10), 'mode'.padEnd(6), 'cuts at B'.padEnd(44), 'made', 'outcome'].join(' | '));
      for (const chaosCase of casesFor(app, offsets)) {
        const result = await rig.run(chaosCase);
        results.push(result);
        console.log(row(result, names));
      }
      console.log('');
    }
  } finally {
    await rig.stop();
  }
  const failed = results.filter((r) => r.failures.length > 0);
  console.log(`${results.length} cases, ${failed.length} failed`);
  process.exitCode = failed.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
