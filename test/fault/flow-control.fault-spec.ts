import { PrivateNode } from '../support/private-node';
import { AlarmResult, memoryAlarm, tallyCalls } from '../chaos/silent-measure';

/**
 * A resource alarm on a private node (memory high watermark set near 0): the
 * broker blocks publishing connections (connection.blocked). The built
 * gateway and worker are on that node; light steady load.
 */
describe('broker flow control (fault)', () => {
  let node: PrivateNode;
  let run: AlarmResult;

  beforeAll(async () => {
    node = await PrivateNode.start({ name: `fibrpcflow${process.pid}` });
    run = await memoryAlarm(node, 12_000);
  }, 180_000);

  afterAll(async () => {
    await node?.stop();
  }, 60_000);

  it('new calls fail fast with 503 FLOW_CONTROL and Retry-After while the broker blocks publishing', () => {
    // The first call on the blocked connection makes the broker block it (RabbitMQ blocks publishers on their next publish).
    expect(run.blockedMs - run.alarmSetMs).toBeLessThan(3000);
    expect(run.duringAlarm.length).toBeGreaterThan(30);
    expect(tallyCalls(run.duringAlarm)).toEqual({ '503 FLOW_CONTROL': run.duringAlarm.length });
    for (const call of run.duringAlarm) expect(call.ms).toBeLessThan(1000);
  });

  it('/health is 503 with the reason while blocked', () => {
    expect(run.healthDuringAlarm.status).toBe(503);
    expect(run.healthDuringAlarm.body).toMatchObject({ status: 'error', error: { broker: { status: 'down' } } });
    expect(String(run.healthDuringAlarm.body.error.broker.message)).toMatch(/blocked/);
  });

  it('a blocked link is not mistaken for a silent one: no link dropped', () => {
    expect(run.silentDrops).toBe(0);
    expect(run.output).not.toMatch(/link to .* lost/);
  });

  it('serves again once the alarm clears, and nothing sent during the alarm is computed afterwards', () => {
    expect(run.recoveryMs).toBeLessThan(10_000);
    expect(run.afterStatus).toBe(200);
    // During the alarm: only what was answered (a call or two in flight when the alarm went on may be computed before the block).
    expect(run.computedAtClear - run.computedAtAlarm).toBeLessThanOrEqual(run.answeredDuringAlarm + 1);
    // After it: at most the one request whose publish made the broker block the connection. The broker had
    // not read it yet, so it reaches the queue only after the clear, TTL intact; past its x-deadline by more
    // than its whole budget, the worker cannot tell it from a clock running ahead, and computes it.
    expect(run.computedAfter - run.computedAtClear).toBeLessThanOrEqual(1);
  });
});
