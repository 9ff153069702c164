import { FailoverHold } from './failover-hold';

describe('FailoverHold (no AMQP)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('holds for holdMs after start, then reports its expiry once', () => {
    const expired = jest.fn();
    const hold = new FailoverHold(500, expired);
    expect(hold.active).toBe(false);
    hold.start();
    jest.advanceTimersByTime(499);
    expect(hold.active).toBe(true);
    expect(expired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(hold.active).toBe(false);
    expect(expired).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('ends without expiry when a link comes up (end), leaving no timer', () => {
    const expired = jest.fn();
    const hold = new FailoverHold(500, expired);
    hold.start();
    hold.end();
    expect(hold.active).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(expired).not.toHaveBeenCalled();
  });

  it('starts the window again from now on a second loss, with one timer', () => {
    const expired = jest.fn();
    const hold = new FailoverHold(500, expired);
    hold.start();
    jest.advanceTimersByTime(400);
    hold.start();
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(400);
    expect(hold.active).toBe(true);
    jest.advanceTimersByTime(100);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('never holds with failoverHoldMs 0', () => {
    const expired = jest.fn();
    const hold = new FailoverHold(0, expired);
    hold.start();
    expect(hold.active).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });
});
