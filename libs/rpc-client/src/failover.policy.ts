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

/** Nacks in a row, on a channel that never had an ack, after which the channel is suspected broken. */
export const NACK_STREAK = 3;
/** At most one fresh channel per link this often. */
export const CHANNEL_REPLACE_MIN_MS = 2000;

/**
 * A nack fails its call (REJECTED). Nacks that persist on a channel that never had a publish
 * confirmed may mean the channel is broken (RabbitMQ 3.10 nacks every publish of a channel opened
 * while a quorum queue's leader was being lost, while a fresh channel publishes normally):
 * publishing then moves to a fresh channel. A channel that had acks is not broken: its nacks are
 * the queue refusing (a length limit), and so are a fresh channel's, which then waits its turn.
 */
export function nackVerdict(lane: {
  streak: number;
  acked: boolean;
  msSinceReplace: number;
}): 'reject' | 'replace-channel' {
  if (lane.streak < NACK_STREAK || lane.acked) return 'reject';
  return lane.msSinceReplace >= CHANNEL_REPLACE_MIN_MS ? 'replace-channel' : 'reject';
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
