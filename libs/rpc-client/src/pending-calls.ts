import type { RpcClientSpan } from '@app/observability/tracing';
import { DeadlineTimers, Deadlined } from './deadline-timers';
import { RpcClientError } from './errors';
import { RpcCallOptions } from './rpc-client.interfaces';

/**
 * Where a call stands: `held` (made while failing over, waiting for the next link), `checking`
 * (waiting for a fresh consumer count), `sent` (published; waiting for its reply), `parked`
 * (its link was lost; waiting to be sent again on the next).
 */
export type CallState = 'held' | 'checking' | 'sent' | 'parked';

/** One call waiting for its reply: settled exactly once, by reply, error, deadline, abort or close. */
export interface PendingCall {
  readonly id: string;
  readonly body: Buffer;
  readonly options: RpcCallOptions;
  /** Absolute deadline, epoch ms. */
  readonly deadline: number;
  readonly timeoutMs: number;
  state: CallState;
  /** Times sent again after a lost link. */
  resends: number;
  /** True once settled: late events about it are ignored. */
  done: boolean;
  /** What it was published on (a RequestSession's lane), for its confirm. */
  sentOn: object | undefined;
  /** When the broker first nacked it on a channel that never had an ack (see nackVerdict), epoch ms. */
  firstNackAt?: number;
  /** Its tracing span (a no-op without an SDK): the trace context goes into every (re-)send's headers. */
  span?: RpcClientSpan;
  resolve(value: string): void;
  reject(error: RpcClientError): void;
}

/** A pending call with its place in the deadline lists. */
class Entry implements Deadlined<Entry> {
  due = 0;
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;
  queued = false;

  constructor(
    readonly call: PendingCall,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

/**
 * The pending-call core: a Map keyed by correlation id, deadlines (few timers for many calls, see
 * DeadlineTimers), the caller's AbortSignal wired in, settle-once, fail-by-predicate, and wait-for-drain.
 */
export class PendingCalls {
  private readonly entries = new Map<string, Entry>();
  private readonly deadlines = new DeadlineTimers<Entry>((entry) => this.fail(entry.call, this.expired(entry.call)));
  /**
   * The calls of each AbortSignal, with ONE 'abort' listener per signal, kept while the signal lives: a
   * signal serves every call of an HTTP connection, and EventTarget add/remove per call cost ~3.6 % of
   * the gateway's CPU. The WeakMap lets a signal go with its connection.
   */
  private readonly bySignal = new WeakMap<AbortSignal, Set<PendingCall>>();
  private onDrained: (() => void) | undefined;

  constructor(
    /** The error of a call whose deadline passed, by where it stood. */
    private readonly expired: (call: PendingCall) => RpcClientError,
    /** The error of a call whose caller aborted it. */
    private readonly aborted: (call: PendingCall) => RpcClientError,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds a call; it settles at the latest at its deadline (or when `signal` aborts). */
  add(id: string, body: Buffer, options: RpcCallOptions, timeoutMs: number, state: CallState): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const call: PendingCall = {
        id,
        body,
        options,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
        state,
        resends: 0,
        done: false,
        sentOn: undefined,
        span: undefined,
        resolve,
        reject,
      };
      const signal = options.signal;
      const entry = new Entry(call, timeoutMs, signal);
      this.deadlines.add(entry);
      if (signal !== undefined) this.callsOf(signal).add(call);
      this.entries.set(id, entry);
    });
  }

  /** The set of `signal`'s pending calls; its first call adds the signal's one listener. */
  private callsOf(signal: AbortSignal): Set<PendingCall> {
    let calls = this.bySignal.get(signal);
    if (calls === undefined) {
      const set = new Set<PendingCall>();
      calls = set;
      this.bySignal.set(signal, set);
      signal.addEventListener(
        'abort',
        () => {
          this.bySignal.delete(signal);
          for (const call of [...set]) this.fail(call, this.aborted(call));
        },
        { once: true },
      );
    }
    return calls;
  }

  get(id: string): PendingCall | undefined {
    return this.entries.get(id)?.call;
  }

  /** A snapshot of the pending calls, oldest first. */
  list(): PendingCall[] {
    return [...this.entries.values()].map(({ call }) => call);
  }

  /** Resolves a pending call; false if it was not pending. */
  succeed(call: PendingCall, value: string): boolean {
    if (!this.remove(call)) return false;
    call.resolve(value);
    return true;
  }

  /** Rejects a pending call; false if it was not pending. */
  fail(call: PendingCall, error: RpcClientError): boolean {
    if (!this.remove(call)) return false;
    call.reject(error);
    return true;
  }

  /** Fails every pending call that `predicate` picks; returns how many. */
  failWhere(predicate: (call: PendingCall) => boolean, error: (call: PendingCall) => RpcClientError): number {
    let failed = 0;
    for (const { call } of [...this.entries.values()]) {
      if (predicate(call) && this.fail(call, error(call))) failed++;
    }
    return failed;
  }

  /** Resolves once no call is pending. */
  drained(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.onDrained = resolve));
  }

  private remove(call: PendingCall): boolean {
    const entry = this.entries.get(call.id);
    if (entry === undefined || entry.call !== call) return false;
    this.entries.delete(call.id);
    call.done = true;
    this.deadlines.remove(entry);
    if (entry.signal !== undefined) this.bySignal.get(entry.signal)?.delete(call);
    if (this.entries.size === 0 && this.onDrained !== undefined) {
      const drained = this.onDrained;
      this.onDrained = undefined;
      drained();
    }
    return true;
  }
}
