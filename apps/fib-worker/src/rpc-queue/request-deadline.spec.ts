import { judgeDeadline } from './request-deadline';

describe('judgeDeadline', () => {
  const now = 1_000_000;

  it.each<[string, unknown, unknown, string]>([
    ['no deadline', undefined, '5000', 'live'],
    ['a junk deadline', 'soon', '5000', 'live'],
    ['a deadline ahead', now + 1, undefined, 'live'],
    ['a deadline just reached', now, '5000', 'live'],
    ['past by less than the budget', now - 1000, '5000', 'expired'],
    ['past by exactly the budget', now - 5000, '5000', 'expired'],
    ['past by more than the budget: clock skew', now - 60_000, '5000', 'skewed'],
    ['a bigint deadline past by more than the budget', BigInt(now - 60_000), '5000', 'skewed'],
    ['a numeric expiration', now - 60_000, 5000, 'skewed'],
    ['past, without expiration: trusted', now - 60_000, undefined, 'expired'],
    ['past, with a junk expiration: trusted', now - 60_000, '5s', 'expired'],
  ])('%s → %s', (_label, deadline, expiration, verdict) => {
    expect(judgeDeadline(deadline, expiration, now)).toBe(verdict);
  });
});
