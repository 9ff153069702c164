import {
  AdmissionFacts,
  admit,
  afterLinkLoss,
  channelReplaceDelayMs,
  deadlineOutcome,
  isSilent,
  NACK_PROBE_MS,
  nackVerdict,
} from './failover.policy';

describe('failover policy (pure decisions, no AMQP)', () => {
  describe('admit', () => {
    const ready: AdmissionFacts = {
      closing: false,
      linkReady: true,
      holding: false,
      flowHeld: undefined,
      consumers: 1,
      pending: 0,
      maxInFlight: 2,
    };
    const down: AdmissionFacts = { ...ready, linkReady: false, consumers: 0 };

    it.each<[string, Partial<AdmissionFacts>, string]>([
      ['a ready link with a worker', {}, 'send'],
      ['a ready link whose last count saw no worker', { consumers: 0 }, 'recheck'],
      ['a ready link with maxInFlight calls pending', { pending: 2 }, 'overloaded'],
      ['a ready link over maxInFlight and no worker', { pending: 3, consumers: 0 }, 'overloaded'],
      ['a closing client, whatever else', { closing: true, flowHeld: 'blocked', pending: 9 }, 'closed'],
      ['a blocked broker', { flowHeld: 'broker blocked publishing: low on memory' }, 'flow-control'],
      ['a blocked broker with the client full', { flowHeld: 'socket not draining', pending: 5 }, 'flow-control'],
    ])('on %s: %s', (_name, facts, expected) => {
      expect(admit({ ...ready, ...facts })).toBe(expected);
    });

    it.each<[string, Partial<AdmissionFacts>, string]>([
      ['no link and no hold (an outage)', {}, 'unavailable'],
      ['no link inside the failover hold', { holding: true }, 'hold'],
      ['no link inside the hold with the client full', { holding: true, pending: 2 }, 'overloaded'],
      ['no link and no hold with the client full', { pending: 2 }, 'unavailable'],
      ['no link while a block is seen during set-up', { flowHeld: 'broker blocked publishing: disk' }, 'flow-control'],
      ['no link and closing', { closing: true, holding: true }, 'closed'],
    ])('on %s: %s', (_name, facts, expected) => {
      expect(admit({ ...down, ...facts })).toBe(expected);
    });
  });

  describe('afterLinkLoss', () => {
    const now = 10_000;
    const off = { resendOnLinkLoss: false, maxResends: 2 };
    const on = { resendOnLinkLoss: true, maxResends: 2 };

    it('fails a sent call when re-sending is off', () => {
      expect(afterLinkLoss({ state: 'sent', resends: 0, deadline: now + 500 }, now, off)).toBe('fail');
    });

    it('parks a sent call when re-sending is on and it has re-sends left', () => {
      expect(afterLinkLoss({ state: 'sent', resends: 0, deadline: now + 500 }, now, on)).toBe('park');
      expect(afterLinkLoss({ state: 'sent', resends: 1, deadline: now + 500 }, now, on)).toBe('park');
    });

    it('fails a call that used up maxResends', () => {
      expect(afterLinkLoss({ state: 'sent', resends: 2, deadline: now + 500 }, now, on)).toBe('fail');
      expect(afterLinkLoss({ state: 'parked', resends: 2, deadline: now + 500 }, now, on)).toBe('fail');
    });

    it('parks a call still parked from an earlier loss while it has re-sends left', () => {
      expect(afterLinkLoss({ state: 'parked', resends: 1, deadline: now + 500 }, now, on)).toBe('park');
    });

    it.each(['held', 'checking'] as const)('parks a %s call (never sent), even with re-sending off', (state) => {
      expect(afterLinkLoss({ state, resends: 0, deadline: now + 500 }, now, off)).toBe('park');
    });

    it.each(['held', 'checking', 'sent', 'parked'] as const)('fails a %s call whose deadline has come', (state) => {
      expect(afterLinkLoss({ state, resends: 0, deadline: now }, now, on)).toBe('fail');
      expect(afterLinkLoss({ state, resends: 0, deadline: now - 1 }, now, on)).toBe('fail');
    });
  });

  describe('deadlineOutcome', () => {
    it.each([
      ['held', 'BROKER_UNAVAILABLE'],
      ['checking', 'BROKER_UNAVAILABLE'],
      ['parked', 'CONNECTION_LOST'],
      ['sent', 'TIMEOUT'],
    ] as const)('a %s call at its deadline: %s', (state, outcome) => {
      expect(deadlineOutcome(state)).toBe(outcome);
    });
  });

  describe('nackVerdict', () => {
    const now = 10_000;

    it('rejects at once a nack on a channel that has had an ack: the queue refuses', () => {
      expect(nackVerdict({ acked: true }, { firstNackAt: now, deadline: now + 5000 }, now)).toBe('reject');
    });

    it('tries a fresh channel for a nack on a channel that never had an ack (RabbitMQ 3.10 after a leader loss)', () => {
      expect(nackVerdict({ acked: false }, { firstNackAt: now, deadline: now + 5000 }, now)).toBe(
        'retry-on-fresh-channel',
      );
      expect(nackVerdict({ acked: false }, { firstNackAt: now - NACK_PROBE_MS + 1, deadline: now + 5000 }, now)).toBe(
        'retry-on-fresh-channel',
      );
    });

    it('rejects once the call has tried fresh channels for NACK_PROBE_MS, or at its deadline', () => {
      expect(nackVerdict({ acked: false }, { firstNackAt: now - NACK_PROBE_MS, deadline: now + 5000 }, now)).toBe(
        'reject',
      );
      expect(nackVerdict({ acked: false }, { firstNackAt: now, deadline: now }, now)).toBe('reject');
    });

    it('opens fresh channels quickly at first, then at most one a second', () => {
      expect(channelReplaceDelayMs(0)).toBeLessThanOrEqual(100);
      const delays = [0, 1, 2, 3, 4, 5, 6, 50].map(channelReplaceDelayMs);
      expect([...delays].sort((a, b) => a - b)).toEqual(delays);
      expect(channelReplaceDelayMs(50)).toBe(1000);
    });
  });
  describe('isSilent', () => {
    const timeoutMs = 100;
    const base = { unconfirmed: 1, unconfirmedSince: 1000, lastHeardAt: 1000, flowEndedAt: 0, timeoutMs };

    it('is never silent with nothing unconfirmed', () => {
      expect(isSilent({ ...base, unconfirmed: 0, now: 1_000_000 })).toBe(false);
    });

    it('is silent once a publish waits timeoutMs with nothing else heard', () => {
      expect(isSilent({ ...base, now: 1000 + timeoutMs - 1 })).toBe(false);
      expect(isSilent({ ...base, now: 1000 + timeoutMs })).toBe(true);
    });

    it('is not silent while the link was heard recently (a slow commit, not a dead link)', () => {
      expect(isSilent({ ...base, lastHeardAt: 1150, now: 1200 })).toBe(false);
      expect(isSilent({ ...base, lastHeardAt: 1150, now: 1150 + timeoutMs })).toBe(true);
    });

    it('is not silent while flow control ended recently (nothing is confirmed during it)', () => {
      expect(isSilent({ ...base, flowEndedAt: 1180, now: 1200 })).toBe(false);
      expect(isSilent({ ...base, flowEndedAt: 1180, now: 1180 + timeoutMs })).toBe(true);
    });

    it('counts from the oldest unconfirmed publish when it is newer than anything heard', () => {
      expect(isSilent({ ...base, unconfirmedSince: 1500, now: 1550 })).toBe(false);
      expect(isSilent({ ...base, unconfirmedSince: 1500, now: 1600 })).toBe(true);
    });
  });
});
