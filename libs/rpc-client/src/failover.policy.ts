import { CallState } from './pending-calls';

/**
 * The client's decisions that do not touch the wire, as pure functions of plain data: whether a
 * new call is sent, held, checked or refused; what a lost link does to a call; what its deadline
 * means; what a nack means; when an unconfirmed publish means a silent link.
 */

/** What the client knows when a call arrives. */
export interface AdmissionFacts {
  closing: boolean;
  linkReady: boolean;
  /** Inside the failover hold after a lost link (see failoverHoldMs). */
  holding: boolean;
  /** Why publishing is held back (broker block or socket not draining), if it is. */
  flowHeld: string | undefined;
  /** Consumers of the request queue at the last check. */
  consumers: number;
  pending: number;
  maxInFlight: number;
}

export type Admission =
  | 'closed'
  | 'unavailable'
  | 'overloaded'
  | 'flow-control'
  /** Made while failing over: waits for the next link. */
  | 'hold'
  /** The last count said no worker: asked again (once, shared) before the call is refused. */
  | 'recheck'
  | 'send';

export function admit(facts: AdmissionFacts): Admission {
  if (facts.closing) return 'closed';
  // A block seen while a link is set up holds for that link: the broker's alarm, not an outage.
  if (facts.flowHeld !== undefined) return 'flow-control';
  const full = facts.pending >= facts.maxInFlight;
  if (!facts.linkReady) return !facts.holding ? 'unavailable' : full ? 'overloaded' : 'hold';
  if (full) return 'overloaded';
  return facts.consumers === 0 ? 'recheck' : 'send';
}

/** What becomes of a pending call when its link is lost. */
export function afterLinkLoss(
  call: { state: CallState; resends: number; deadline: number },
  now: number,
  policy: { resendOnLinkLoss: boolean; maxResends: number },
): 'park' | 'fail' {
  if (call.deadline <= now) return 'fail';
  // Held and checking calls never went out: they wait for the next link like new calls in the hold.
  if (call.state === 'held' || call.state === 'checking') return 'park';
  return policy.resendOnLinkLoss && call.resends < policy.maxResends ? 'park' : 'fail';
}

/** The error a call gets at its deadline, by where it stood. */
export function deadlineOutcome(state: CallState): 'BROKER_UNAVAILABLE' | 'CONNECTION_LOST' | 'TIMEOUT' {
  // Never sent: the broker was the problem (503), not the worker (504).
  if (state === 'held' || state === 'checking') return 'BROKER_UNAVAILABLE';
  return state === 'parked' ? 'CONNECTION_LOST' : 'TIMEOUT';
}

/** How long a call nacked on channels that never had an ack keeps trying fresh ones before it is REJECTED. */
export const NACK_PROBE_MS = 3000;
/** Delays before each fresh channel of one link: quick at first, then at most one a second. */
const CHANNEL_REPLACE_DELAYS_MS = [50, 100, 200, 400, 800, 1000];

/**
 * A nack on a channel that has had a publish confirmed is the queue refusing (a length limit): the
 * call fails at once with REJECTED. A nack on a channel that never had one proves nothing yet:
 * RabbitMQ 3.10 nacks every publish of a channel opened while a quorum queue's leader was being
 * lost (for about 2 s after a node loss, measured), while a fresh channel opened later publishes
 * normally. That call never reached the queue; it is tried on a fresh channel of the same
 * connection, for up to NACK_PROBE_MS (never past its deadline), and REJECTED only then.
 */
export function nackVerdict(
  lane: { acked: boolean },
  call: { firstNackAt: number; deadline: number },
  now: number,
): 'reject' | 'retry-on-fresh-channel' {
  if (lane.acked) return 'reject';
  return now - call.firstNackAt < NACK_PROBE_MS && now < call.deadline ? 'retry-on-fresh-channel' : 'reject';
}

/** How long to wait before a link's next fresh channel (`replaced`: how many it has opened already). */
export function channelReplaceDelayMs(replaced: number): number {
  return CHANNEL_REPLACE_DELAYS_MS[Math.min(replaced, CHANNEL_REPLACE_DELAYS_MS.length - 1)];
}

/**
 * A publish unconfirmed for `timeoutMs` means a silent link only if nothing else came back on the
 * connection for that long either (a slow quorum commit delays confirms on a link that answers).
 * The wait counts from the end of flow control, when nothing is confirmed by design.
 */
export function isSilent(facts: {
  unconfirmed: number;
  /** When the oldest unconfirmed publish went out, epoch ms. */
  unconfirmedSince: number;
  /** When anything last came back on the connection: a confirm, reply, return or check answer. */
  lastHeardAt: number;
  flowEndedAt: number;
  now: number;
  timeoutMs: number;
}): boolean {
  if (facts.unconfirmed === 0) return false;
  const quietSince = Math.max(facts.unconfirmedSince, facts.lastHeardAt, facts.flowEndedAt);
  return facts.now - quietSince >= facts.timeoutMs;
}
