import { ChaosApp, ChaosRig, formatTrace, frameOf, nameOffset } from '../support/chaos';
import { ConnectionTrace } from '../support/tcp-proxy';

/** A byte offset in an app's handshake, found by frame name (the request queue's name marks its consumer check). */
type Offset = (trace: ConnectionTrace, queue: string) => number;

const frame = (name: string, about?: 'request queue') => (t: ConnectionTrace, queue: string) =>
  frameOf(t, name, about === undefined ? {} : { queue });
const end =
  (name: string, about?: 'request queue'): Offset =>
  (t, q) =>
    frame(name, about)(t, q).end;
const short =
  (name: string, about?: 'request queue'): Offset =>
  (t, q) =>
    frame(name, about)(t, q).end - 1;
const into =
  (name: string, bytes: number, about?: 'request queue'): Offset =>
  (t, q) =>
    frame(name, about)(t, q).start + bytes;
const before =
  (name: string, about?: 'request queue'): Offset =>
  (t, q) =>
    frame(name, about)(t, q).start;

/** Representative offsets from the measured handshake (the first frame of each name); `npm run chaos` tries every one. */
const GATEWAY_CASES: [string, Offset[]][] = [
  ['before connection.start', [before('connection.start')]],
  ['1 byte into connection.start', [into('connection.start', 1)]],
  ['after connection.tune', [end('connection.tune')]],
  ['after connection.open-ok (channel being opened)', [end('connection.open-ok')]],
  ['after channel.open-ok (reply path being set up)', [end('channel.open-ok')]],
  ['1 byte short of basic.consume-ok (reply consumer)', [short('basic.consume-ok')]],
  ['after basic.consume-ok (consumer check next)', [end('basic.consume-ok')]],
  ['while the first consumer check awaits its answer', [before('queue.declare-ok', 'request queue')]],
  ['1 byte short of the first consumer check answer', [short('queue.declare-ok', 'request queue')]],
  ['after the first consumer check answer', [end('queue.declare-ok', 'request queue')]],
  ['inside the first reply delivery', [into('basic.deliver', 10)]],
  [
    'three connections in a row: open-ok, consumer check, first byte',
    [end('connection.open-ok'), before('queue.declare-ok', 'request queue'), into('connection.start', 1)],
  ],
];

const WORKER_CASES: [string, Offset[]][] = [
  ['before connection.start', [before('connection.start')]],
  ['1 byte into connection.start', [into('connection.start', 1)]],
  ['after connection.open-ok (channel being opened)', [end('connection.open-ok')]],
  ['after channel.open-ok (queue being checked or declared)', [end('channel.open-ok')]],
  ['1 byte short of the request queue declare-ok', [short('queue.declare-ok', 'request queue')]],
  ['after basic.qos-ok (consumer being started)', [end('basic.qos-ok')]],
  ['after basic.consume-ok', [end('basic.consume-ok')]],
  ['inside the first request delivery', [into('basic.deliver', 10)]],
  [
    'three connections in a row: channel.open-ok, consume-ok, first byte',
    [end('channel.open-ok'), end('basic.consume-ok'), into('connection.start', 1)],
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
        const bytes = offsets.map((offset) => offset(trace, rig.queue));
        const result = await rig.run({ app, cuts: bytes });
        const at = bytes.map((b) => `${b} (${nameOffset(trace.serverFrames, b)})`).join(', ');
        expect(result.failures.map((failure) => `cut at ${at}: ${failure}`)).toEqual([]);
        expect(result.cutsMade).toBe(bytes.length);
      },
      60_000,
    );

    it('recovers when its very first connections are reset (fresh start)', async () => {
      const trace = rig.handshake(app);
      const bytes = [end('channel.open-ok')(trace, rig.queue), into('connection.start', 1)(trace, rig.queue)];
      const result = await rig.run({ app, cuts: bytes, fresh: true });
      const at = bytes.map((b) => `${b} (${nameOffset(trace.serverFrames, b)})`).join(', ');
      expect(result.failures.map((failure) => `cut at ${at}: ${failure}`)).toEqual([]);
      expect(result.cutsMade).toBe(bytes.length);
    }, 60_000);
  });
});
