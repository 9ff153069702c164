import { BrokerLinkLogger } from '@app/runtime';
import { BrokerUnavailableError, ClientClosedError, ConnectionLostError } from './errors';
import { FailoverHold } from './failover-hold';
import { afterLinkLoss } from './failover.policy';
import { PendingCall, PendingCalls } from './pending-calls';
import { RequestSession } from './request-session';
import { RpcClientStats } from './rpc-client.interfaces';

/** What the client sends a waiting call with once a link is up. */
export interface CallSender {
  publish(session: RequestSession, call: PendingCall): void;
  /** Sends the call once a fresh consumer count sees a worker; refuses it NO_WORKER on a fresh zero. */
  sendOnWorker(session: RequestSession, call: PendingCall): Promise<void>;
}

export interface LinkRecoverySettings {
  queue: string;
  replyMode: 'queue' | 'direct';
  resendOnLinkLoss: boolean;
  maxResends: number;
  failoverHoldMs: number;
  /** Nodes to fail over to: with one, a lost link is an outage and nothing is held. */
  nodeCount: number;
}

/**
 * What a lost link does to the pending calls and what the next link sends: failover.policy's
 * decisions applied call by call, the failover hold, and what a link carries over to the next.
 */
export class LinkRecovery {
  /** Consumers seen by the last link, carried to the next (a first zero after it is checked again). */
  lastConsumers = 0;
  private everUp = false;
  private closed = false;
  private readonly hold: FailoverHold;

  constructor(
    private readonly pending: PendingCalls,
    private readonly settings: LinkRecoverySettings,
    private readonly stats: RpcClientStats,
    private readonly logger: BrokerLinkLogger,
    private readonly sender: CallSender,
  ) {
    this.hold = new FailoverHold(settings.failoverHoldMs, () => {
      const failed = failHeld(pending, settings.queue);
      if (failed > 0)
        logger.warn(`no link within the ${settings.failoverHoldMs} ms failover hold: ${failed} new call(s) failed`);
    });
  }

  /** Inside the failover hold: a new call waits for the next link. */
  get holding(): boolean {
    return this.hold.active;
  }

  /** A link is up: calls whose link was lost, and calls held meanwhile, go out with what is left of their deadline. */
  up(session: RequestSession, node: string): void {
    this.hold.end();
    if (this.everUp) this.stats.reconnects++;
    this.everUp = true;
    const path = this.settings.replyMode === 'direct' ? session.replyTo : 'callback queue';
    this.logger.log(
      `connected to ${node}; reply path ${path}; ${session.presence.count} consumer(s) on ${this.settings.queue}`,
    );
    const { calls, resends } = callsForNextLink(this.pending);
    this.stats.resends += resends;
    for (const call of calls) {
      if (call.state === 'checking' && session.presence.count === 0) void this.sender.sendOnWorker(session, call);
      else this.sender.publish(session, call);
    }
    session.presence.start(this.lastConsumers);
  }

  /** A link is gone: its session is disposed; each call is parked or fails, and the hold starts. */
  down(session: RequestSession, reason: string, closing: boolean): void {
    this.lastConsumers = session.presence.count;
    session.dispose();
    // RpcClient.close() closes the link right after this.close(), before its `closing` is set: still a close.
    if (closing || this.closed) {
      failAll(this.pending, this.settings.queue);
      return;
    }
    const { failed, parked } = parkOrFail(this.pending, this.settings.queue, this.settings, Date.now());
    if (failed + parked > 0) {
      this.logger.warn(`${reason}: ${failed} pending call(s) failed, ${parked} kept to be sent again on the next link`);
    }
    // Never before the first link (the broker was never there), and not with a single node.
    if (this.everUp && this.settings.nodeCount >= 2) this.hold.start();
  }

  /** No link soon (every node refused once): calls waiting for one fail now (503). */
  noLinkSoon(why: string): void {
    this.hold.end();
    const failed = failWaiting(this.pending, this.settings.queue);
    if (failed > 0) this.logger.warn(`${why}: ${failed} call(s) waiting for a link failed`);
  }

  /** The client closes: every call still pending fails CLIENT_CLOSED, and the hold's timer goes. */
  close(): void {
    this.closed = true;
    failAll(this.pending, this.settings.queue);
    this.hold.end();
  }
}

/** Each call is parked to be sent again on the next link, or fails CONNECTION_LOST (see afterLinkLoss). */
function parkOrFail(
  pending: PendingCalls,
  queue: string,
  policy: { resendOnLinkLoss: boolean; maxResends: number },
  now: number,
): { failed: number; parked: number } {
  let failed = 0;
  let parked = 0;
  for (const call of pending.list()) {
    if (afterLinkLoss(call, now, policy) === 'park') {
      if (call.state === 'sent') call.state = 'parked';
      parked++;
    } else if (pending.fail(call, new ConnectionLostError(queue, call.id))) {
      failed++;
    }
  }
  return { failed, parked };
}

/** The calls a new link sends, oldest first: those parked by the lost link (each a re-send), held and checking ones. */
function callsForNextLink(pending: PendingCalls): { calls: PendingCall[]; resends: number } {
  const calls = pending.list().filter((call) => call.state !== 'sent');
  let resends = 0;
  for (const call of calls) {
    if (call.state !== 'parked') continue;
    call.resends++;
    resends++;
  }
  return { calls, resends };
}

/** The hold ended with no link: calls made during it were never sent (BROKER_UNAVAILABLE). */
function failHeld(pending: PendingCalls, queue: string): number {
  return pending.failWhere(
    (call) => call.state === 'held' || call.state === 'checking',
    () => new BrokerUnavailableError(queue),
  );
}

/** Held calls were never sent (BROKER_UNAVAILABLE); parked ones were lost with their link (CONNECTION_LOST). */
function failWaiting(pending: PendingCalls, queue: string): number {
  return pending.failWhere(
    (call) => call.state !== 'sent',
    (call) => (call.state === 'parked' ? new ConnectionLostError(queue, call.id) : new BrokerUnavailableError(queue)),
  );
}

function failAll(pending: PendingCalls, queue: string): number {
  return pending.failWhere(
    () => true,
    () => new ClientClosedError(queue),
  );
}
