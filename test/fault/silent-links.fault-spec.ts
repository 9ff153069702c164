import {
  gatewaySilent,
  GatewaySilentResult,
  tallyCalls,
  workerSilent,
  WorkerSilentResult,
} from '../chaos/silent-measure';

/** Deadline of the gateway's calls (RPC_TIMEOUT_MS default) and the margin allowed past it. */
const DEADLINE_MS = 5000;
const MARGIN_MS = 700;

/**
 * Links that go silent without closing (a proxy that stops forwarding both
 * ways, sockets kept open), with the built apps and default settings:
 * AMQP_HEARTBEAT_S 5, AMQP_CONNECT_TIMEOUT_MS 3000, RPC_TIMEOUT_MS 5000.
 */
describe('silent links (fault)', () => {
  describe("the gateway's link goes silent for 12 s", () => {
    let run: GatewaySilentResult;

    beforeAll(async () => {
      run = await gatewaySilent(12_000);
    }, 90_000);

    it('is noticed: /health 503 within 8 s of the silence, new calls answered 503 in under 1 s', () => {
      expect(run.healthDownMs).toBeLessThan(8000);
      expect(run.fast503Ms).toBeLessThan(8000);
      expect(run.duringOutage.length).toBeGreaterThan(20);
      expect(tallyCalls(run.duringOutage)).toEqual({ '503 BROKER_UNAVAILABLE': run.duringOutage.length });
      for (const call of run.duringOutage) expect(call.ms).toBeLessThan(1000);
      expect(run.output).toMatch(
        /link to amqp:\/\/127\.0\.0\.1:\d+\/ lost \((no answer to the consumer check|no confirm nor anything else from the broker)/,
      );
    });

    it('counts exactly one silent link drop', () => {
      expect(run.silentDrops).toBe(1);
    });

    it('serves again within 15 s of the path healing', () => {
      expect(run.recoveryMs).toBeLessThan(15_000);
      const after = run.calls.filter((call) => call.at >= 12_000 + run.recoveryMs + 500);
      expect(after.length).toBeGreaterThan(0);
      expect(tallyCalls(after)).toEqual({ '200': after.length });
    });

    it('no call waits past its deadline, and none is answered 504', () => {
      for (const call of run.calls) expect(call.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      const outcomes = Object.keys(tallyCalls(run.calls)).sort();
      expect(outcomes.filter((key) => !['200', '503 BROKER_UNAVAILABLE', '503 CONNECTION_LOST'].includes(key))).toEqual(
        [],
      );
    });
  });

  describe("one of two workers' links goes silent for 20 s under 20 req/s", () => {
    let run: WorkerSilentResult;

    beforeAll(async () => {
      run = await workerSilent(20_000);
    }, 120_000);

    // RabbitMQ and amqplib both time a link out after 2 to 3 heartbeat intervals without data (10–15 s at 5 s).
    it('the broker gives up on the silent worker within 2–3 × AMQP_HEARTBEAT_S (15 s; 17 s with margin)', () => {
      expect(run.brokerGaveUpMs).toBeLessThan(17_000);
    });

    it('the silent worker notices on its own: /health 503 within 17 s', () => {
      expect(run.workerDownMs).toBeLessThan(17_000);
      expect(run.workerOutput).toMatch(/consumer gone \(.*\); unacked requests go back to the queue/);
    });

    it('every call is 200 again once the broker gave up on it; only calls in that window fail, each within its deadline', () => {
      expect(run.allOkAfterMs).toBeLessThan(run.brokerGaveUpMs + 1000);
      const late = run.duringFreeze.filter((call) => call.at > run.brokerGaveUpMs + 1000);
      expect(late.length).toBeGreaterThan(20);
      expect(tallyCalls(late)).toEqual({ '200': late.length });
      for (const call of run.calls) expect(call.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      // At most the calls routed to the silent worker before the broker gave up: half of that window.
      expect(run.failed).toBeLessThan(run.duringFreeze.length / 2);
    });

    it('after the thaw the worker reconnects and consumes again: its /health 200, 2 consumers', () => {
      expect(run.workerBackMs).toBeLessThan(15_000);
      expect(run.consumersBackMs).toBeLessThan(15_000);
      expect(run.workerOutput.match(/consuming /g)?.length).toBe(2);
    });
  });
});
