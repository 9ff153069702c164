import { ChaosApp, ChaosRig, formatTrace, frameOf, nameOffset } from '../support/chaos';
import { ConnectionTrace } from '../support/tcp-proxy';

type Offsets = (trace: ConnectionTrace) => number[];

const start = (t: ConnectionTrace) => frameOf(t, 'connection.start').start;
const end = (name: string, channel?: number) => (t: ConnectionTrace) => frameOf(t, name, channel).end;
const short = (name: string, channel?: number) => (t: ConnectionTrace) => frameOf(t, name, channel).end - 1;
const into = (name: string, bytes: number, channel?: number) => (t: ConnectionTrace) =>
  frameOf(t, name, channel).start + bytes;
/** One connection cut at each of these offsets, in a row. */
const cuts =
  (...offsets: ((t: ConnectionTrace) => number)[]): Offsets =>
  (t) =>
    offsets.map((offset) => offset(t));

/** Representative offsets from the measured handshake; `npm run chaos` tries every one. */
const GATEWAY_CASES: [string, Offsets][] = [
  ['before connection.start', cuts(start)],
  ['1 byte into connection.start', cuts(into('connection.start', 1))],
  ['after connection.tune', cuts(end('connection.tune'))],
  ['after connection.open-ok (channel being opened)', cuts(end('connection.open-ok'))],
  ['after channel.open-ok (reply queue being declared)', cuts(end('channel.open-ok', 1))],
  ['1 byte short of the reply queue declare-ok', cuts(short('queue.declare-ok', 1))],
  ['after basic.consume-ok (consumer check next)', cuts(end('basic.consume-ok', 1))],
  ['after the consumer check channel opened', cuts(end('channel.open-ok', 2))],
  ['1 byte short of the first consumer check reply', cuts(short('queue.declare-ok', 2))],
  ['after the first consumer check reply', cuts(end('queue.declare-ok', 2))],
  ['inside the first reply delivery', cuts(into('basic.deliver', 10, 1))],
  [
    'three connections in a row: open-ok, consumer check, first byte',
    cuts(end('connection.open-ok'), end('channel.open-ok', 2), into('connection.start', 1)),
  ],
];

const WORKER_CASES: [string, Offsets][] = [
  ['before connection.start', cuts(start)],
  ['1 byte into connection.start', cuts(into('connection.start', 1))],
  ['after connection.open-ok (channel being opened)', cuts(end('connection.open-ok'))],
  ['after channel.open-ok (queue being declared)', cuts(end('channel.open-ok', 1))],
  ['1 byte short of the queue declare-ok', cuts(short('queue.declare-ok', 1))],
  ['after basic.qos-ok (consumer being started)', cuts(end('basic.qos-ok', 1))],
  ['after basic.consume-ok', cuts(end('basic.consume-ok', 1))],
  ['inside the first request delivery', cuts(into('basic.deliver', 10, 1))],
  [
    'three connections in a row: channel.open-ok, consume-ok, first byte',
    cuts(end('channel.open-ok', 1), end('basic.consume-ok', 1), into('connection.start', 1)),
  ],
];

/**
 * Both built apps, each behind its own proxy, have their broker link reset
 * after B bytes from the broker, B taken from their measured handshake
 * (connection set-up, channel, queue set-up, the first consumer check, the
 * first deliveries), also for several connections in a row and on a fresh
 * start. Afterwards each app must be alive and serving within 20 s, and the
 * gateway's /health must never say 200 while its calls fail for want of a link.
 */
describe('broker link reset after B bytes (fault)', () => {
  let rig: ChaosRig;

  beforeAll(async () => {
    rig = await ChaosRig.start();
    console.log(['gateway', 'fib-worker'].map((app) => formatTrace(app, rig.handshake(app as ChaosApp))).join('\n'));
  }, 60_000);

  afterAll(async () => {
    await rig?.stop();
  });

  describe.each([
    ['gateway', GATEWAY_CASES],
    ['fib-worker', WORKER_CASES],
  ] as const)('%s', (app, cases) => {
    it.each(cases)(
      'recovers from a reset %s',
      async (_label, offsets) => {
        const trace = rig.handshake(app);
        const bytes = offsets(trace);
        const result = await rig.run({ app, cuts: bytes });
        const at = bytes.map((b) => `${b} (${nameOffset(trace.serverFrames, b)})`).join(', ');
        expect(result.failures.map((failure) => `cut at ${at}: ${failure}`)).toEqual([]);
        expect(result.cutsMade).toBe(bytes.length);
      },
      60_000,
    );

    it('recovers when its very first connections are reset (fresh start)', async () => {
      const trace = rig.handshake(app);
      const bytes = [frameOf(trace, 'channel.open-ok', 1).end, frameOf(trace, 'connection.start').start + 1];
      const result = await rig.run({ app, cuts: bytes, fresh: true });
      const at = bytes.map((b) => `${b} (${nameOffset(trace.serverFrames, b)})`).join(', ');
      expect(result.failures.map((failure) => `cut at ${at}: ${failure}`)).toEqual([]);
      expect(result.cutsMade).toBe(bytes.length);
    }, 60_000);
  });
});
