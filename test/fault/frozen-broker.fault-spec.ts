import { PrivateNode } from '../support/private-node';
import { frozenNode, FrozenNodeResult, tallyCalls } from '../chaos/silent-measure';

const DEADLINE_MS = 5000;
const MARGIN_MS = 700;

/**
 * A broker node frozen with SIGSTOP for 25 s (sockets open, nothing answers),
 * with the built gateway and worker both on it (a private node, never the
 * shared one), default settings.
 */
describe('frozen broker node (fault)', () => {
  let node: PrivateNode;
  let run: FrozenNodeResult;

  beforeAll(async () => {
    node = await PrivateNode.start({ name: `fibrpcfrz${process.pid}` });
    run = await frozenNode(node, 25_000);
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
  }, 60_000);

  it('is noticed: /health 503 within 8 s, new calls answered 503 in under 1 s', () => {
    expect(run.healthDownMs).toBeLessThan(8000);
    expect(run.fast503Ms).toBeLessThan(8000);
    expect(run.duringOutage.length).toBeGreaterThan(50);
    expect(tallyCalls(run.duringOutage)).toEqual({ '503 BROKER_UNAVAILABLE': run.duringOutage.length });
    for (const call of run.duringOutage) expect(call.ms).toBeLessThan(1000);
  });

  it('abandons the reconnect attempts to the frozen node after AMQP_CONNECT_TIMEOUT_MS, with a log line', () => {
    // 25 s frozen, detection within 8 s, then attempts of 3 s each with backoff: at least 2 (one line per cause per 30 s).
    expect(run.abandonedAttemptLines).toBeGreaterThanOrEqual(1);
    expect(run.output).toMatch(/cannot connect to amqp:\/\/127\.0\.0\.1:\d+\/: no AMQP handshake within 3000 ms/);
  });

  it('serves again within 15 s of the thaw, and the worker consumes again', () => {
    expect(run.recoveryMs).toBeLessThan(15_000);
    expect(run.workerBackMs).toBeLessThan(15_000);
    const after = run.calls.filter((call) => call.at >= 25_000 + run.recoveryMs + 500);
    expect(after.length).toBeGreaterThan(0);
    expect(tallyCalls(after)).toEqual({ '200': after.length });
  });

  it('no call waits past its deadline', () => {
    for (const call of run.calls) expect(call.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    const outcomes = Object.keys(tallyCalls(run.calls));
    // After the thaw the gateway may be back before the worker has re-consumed (its retry backs off up to 5 s):
    // those calls get the contract's fast 503 NO_WORKER. What must never happen is a 504 or a hang.
    const fastFailures = ['200', '503 BROKER_UNAVAILABLE', '503 CONNECTION_LOST', '503 NO_WORKER'];
    expect(outcomes.filter((key) => !fastFailures.includes(key))).toEqual([]);
  });
});
