import { deadlineError } from './call-outcomes';
import { CallCancelledError, ConnectionLostError, RpcClientError } from './errors';
import { CallState, PendingCall, PendingCalls } from './pending-calls';

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (value) => `resolved ${String(value)}`,
    (error: unknown) => (error instanceof RpcClientError ? error.code : `not an RpcClientError: ${String(error)}`),
  );
}

describe('PendingCalls (no AMQP)', () => {
  let expired: jest.Mock<RpcClientError, [PendingCall]>;
  let aborted: jest.Mock<RpcClientError, [PendingCall]>;
  let pending: PendingCalls;

  beforeEach(() => {
    jest.useFakeTimers();
    expired = jest.fn((call: PendingCall) => deadlineError(call, 'q'));
    aborted = jest.fn((call: PendingCall) => new CallCancelledError('q', call.id));
    pending = new PendingCalls(expired, aborted);
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  function add(id: string, state: CallState = 'sent', signal?: AbortSignal): Promise<string> {
    return pending.add(id, Buffer.from(id), { signal }, 1000, state);
  }

  it('settles a call once: a second succeed or a fail after it is ignored', async () => {
    const reply = add('a');
    const call = pending.get('a') as PendingCall;
    expect(pending.succeed(call, 'one')).toBe(true);
    expect(call.done).toBe(true);
    expect(pending.succeed(call, 'two')).toBe(false);
    expect(pending.fail(call, new ConnectionLostError('q', 'a'))).toBe(false);
    await expect(reply).resolves.toBe('one');
    expect(pending.size).toBe(0);
  });

  it('ignores a late succeed after a fail', async () => {
    const reply = codeOf(add('a'));
    const call = pending.get('a') as PendingCall;
    expect(pending.fail(call, new ConnectionLostError('q', 'a'))).toBe(true);
    expect(pending.succeed(call, 'late')).toBe(false);
    await expect(reply).resolves.toBe('CONNECTION_LOST');
  });

  it('does not settle a call of the same id that is no longer the pending one', async () => {
    const first = codeOf(add('a'));
    const stale = pending.get('a') as PendingCall;
    pending.fail(stale, new ConnectionLostError('q', 'a'));
    const second = add('a');
    expect(pending.succeed(stale, 'stale')).toBe(false);
    expect(pending.size).toBe(1);
    pending.succeed(pending.get('a') as PendingCall, 'fresh');
    await expect(second).resolves.toBe('fresh');
    await expect(first).resolves.toBe('CONNECTION_LOST');
  });

  it.each([
    ['sent', 'TIMEOUT'],
    ['held', 'BROKER_UNAVAILABLE'],
    ['checking', 'BROKER_UNAVAILABLE'],
    ['parked', 'CONNECTION_LOST'],
  ] as const)('fails a %s call at its deadline with %s, not a millisecond before', async (state, code) => {
    const reply = codeOf(add('a', state));
    jest.advanceTimersByTime(999);
    expect(pending.size).toBe(1);
    jest.advanceTimersByTime(1);
    await expect(reply).resolves.toBe(code);
    expect(expired).toHaveBeenCalledTimes(1);
    expect(pending.size).toBe(0);
  });

  it('gives the deadline error by where the call stands when the deadline comes', async () => {
    const reply = codeOf(add('a', 'sent'));
    (pending.get('a') as PendingCall).state = 'parked';
    jest.advanceTimersByTime(1000);
    await expect(reply).resolves.toBe('CONNECTION_LOST');
  });

  it('clears the deadline timer of a settled call', async () => {
    const reply = add('a');
    pending.succeed(pending.get('a') as PendingCall, '1');
    jest.advanceTimersByTime(5000);
    await expect(reply).resolves.toBe('1');
    expect(expired).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('fails an aborted call with the aborted error and frees its slot at once', async () => {
    const controller = new AbortController();
    const reply = codeOf(add('a', 'sent', controller.signal));
    add('b').catch(() => undefined);
    expect(pending.size).toBe(2);
    controller.abort();
    expect(pending.size).toBe(1);
    expect(pending.get('a')).toBeUndefined();
    await expect(reply).resolves.toBe('CANCELLED');
    expect(aborted).toHaveBeenCalledTimes(1);
  });

  it('forgets a call that settled otherwise: a later abort of its signal does nothing to it', async () => {
    const controller = new AbortController();
    const reply = add('a', 'sent', controller.signal);
    pending.succeed(pending.get('a') as PendingCall, '1');
    controller.abort();
    expect(aborted).not.toHaveBeenCalled();
    await expect(reply).resolves.toBe('1');
  });

  it('adds one abort listener per signal, not per call, and fails every pending call of the signal on abort', async () => {
    const controller = new AbortController();
    const added = jest.spyOn(controller.signal, 'addEventListener');
    const removed = jest.spyOn(controller.signal, 'removeEventListener');
    const first = add('a', 'sent', controller.signal);
    pending.succeed(pending.get('a') as PendingCall, '1');
    const replies = ['b', 'c'].map((id) => codeOf(add(id, 'sent', controller.signal)));
    const other = add('d');
    expect(added).toHaveBeenCalledTimes(1);
    expect(removed).not.toHaveBeenCalled();
    controller.abort();
    await expect(first).resolves.toBe('1');
    await expect(Promise.all(replies)).resolves.toEqual(['CANCELLED', 'CANCELLED']);
    expect(pending.size).toBe(1);
    pending.succeed(pending.get('d') as PendingCall, '2');
    await expect(other).resolves.toBe('2');
  });

  it('fails calls sharing a timeout each at its own deadline, and a shorter timeout first, with one timer per timeout', async () => {
    const a = codeOf(pending.add('a', Buffer.from('a'), {}, 1000, 'sent'));
    jest.advanceTimersByTime(300);
    const b = codeOf(pending.add('b', Buffer.from('b'), {}, 1000, 'sent'));
    const short = codeOf(pending.add('s', Buffer.from('s'), {}, 500, 'sent'));
    expect(jest.getTimerCount()).toBe(2);
    jest.advanceTimersByTime(499);
    expect(pending.size).toBe(3);
    jest.advanceTimersByTime(1); // t = 800: s's deadline
    expect(pending.get('s')).toBeUndefined();
    jest.advanceTimersByTime(199);
    expect(pending.get('a')).toBeDefined();
    jest.advanceTimersByTime(1); // t = 1000: a's deadline
    expect(pending.get('a')).toBeUndefined();
    expect(pending.get('b')).toBeDefined();
    jest.advanceTimersByTime(299);
    expect(pending.get('b')).toBeDefined();
    jest.advanceTimersByTime(1); // t = 1300: b's deadline
    await expect(Promise.all([a, b, short])).resolves.toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps the deadline of a later call when the call at the head of its list settles first', async () => {
    const a = add('a');
    jest.advanceTimersByTime(400);
    const b = codeOf(add('b'));
    pending.succeed(pending.get('a') as PendingCall, '1');
    jest.advanceTimersByTime(600); // a's deadline: the timer finds b not yet due
    expect(pending.get('b')).toBeDefined();
    jest.advanceTimersByTime(399);
    expect(pending.get('b')).toBeDefined();
    jest.advanceTimersByTime(1);
    await expect(a).resolves.toBe('1');
    await expect(b).resolves.toBe('TIMEOUT');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('failWhere fails only the calls its predicate picks, each with its own error, and counts them', async () => {
    const replies = (['sent', 'held', 'parked', 'sent'] as const).map((state, i) => codeOf(add(`c${i}`, state)));
    const failed = pending.failWhere(
      (call) => call.state === 'sent',
      (call) => new ConnectionLostError('q', call.id),
    );
    expect(failed).toBe(2);
    expect(pending.list().map((call) => call.id)).toEqual(['c1', 'c2']);
    expect(
      pending.failWhere(
        () => false,
        (call) => new ConnectionLostError('q', call.id),
      ),
    ).toBe(0);
    pending.succeed(pending.get('c1') as PendingCall, 'x');
    pending.succeed(pending.get('c2') as PendingCall, 'y');
    await expect(Promise.all(replies)).resolves.toEqual([
      'CONNECTION_LOST',
      'resolved x',
      'resolved y',
      'CONNECTION_LOST',
    ]);
  });

  it('lists the pending calls oldest first, as a snapshot', () => {
    for (const id of ['a', 'b', 'c']) add(id).catch(() => undefined);
    const listed = pending.list();
    pending.succeed(listed[0], '1');
    expect(listed.map((call) => call.id)).toEqual(['a', 'b', 'c']);
    expect(pending.list().map((call) => call.id)).toEqual(['b', 'c']);
  });

  it('drained() resolves at once with nothing pending, else when the last call settles', async () => {
    await expect(pending.drained()).resolves.toBeUndefined();
    const a = add('a');
    const b = add('b').catch(() => undefined);
    let drained = false;
    const draining = pending.drained().then(() => (drained = true));
    pending.succeed(pending.get('a') as PendingCall, '1');
    await a;
    expect(drained).toBe(false);
    pending.fail(pending.get('b') as PendingCall, new ConnectionLostError('q', 'b'));
    await b;
    await draining;
    expect(drained).toBe(true);
  });

  it('drained() also resolves when the last call ends at its deadline', async () => {
    const reply = codeOf(add('a'));
    const draining = pending.drained();
    jest.advanceTimersByTime(1000);
    await expect(reply).resolves.toBe('TIMEOUT');
    await expect(draining).resolves.toBeUndefined();
  });
});
