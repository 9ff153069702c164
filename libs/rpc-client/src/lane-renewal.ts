import { channelReplaceDelayMs, nackVerdict } from './failover.policy';
import { PendingCall } from './pending-calls';
import { Lane, LANE_RETIRE_MS } from './request-lane';

/** What a link's request session lends the renewal of its request channel. */
export interface LaneRenewalHost {
  /** The channel requests go out on now. */
  current(): Lane;
  /** Opens a fresh request channel wired like the first (and consuming direct reply-to in that mode). */
  open(): Promise<Lane>;
  /** Makes `fresh` the channel requests go out on. */
  adopt(fresh: Lane): void;
  publish(call: PendingCall): void;
  reject(call: PendingCall): void;
  /** Publishing moved to a fresh channel; `n`: the how-manieth of this link. */
  renewed(n: number): void;
  disposed(): boolean;
}

/**
 * Calls nacked on a channel that never had a publish confirmed go out again on a fresh channel of
 * the same connection (see nackVerdict): the first 50 ms later, then backing off to one a second.
 * A replaced channel stays open a while for the replies of the calls confirmed on it (direct
 * reply-to); the one holding the callback queue's consumer stays open for good.
 */
export class LaneRenewal {
  private renewals = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiting = new Set<PendingCall>();
  private readonly retired = new Set<NodeJS.Timeout>();

  constructor(
    private readonly host: LaneRenewalHost,
    private readonly replyMode: 'queue' | 'direct',
    private readonly replyLane: Lane,
  ) {}

  /** `call` was nacked on `lane`, a channel that never had a confirm: it waits for a fresh one. */
  wait(call: PendingCall, lane: Lane): void {
    call.sentOn = undefined;
    this.waiting.add(call);
    if (lane !== this.host.current()) this.flush();
    else this.timer ??= setTimeout(() => void this.renew(lane), channelReplaceDelayMs(this.renewals));
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.waiting.clear();
    for (const timer of this.retired) clearTimeout(timer);
    this.retired.clear();
  }

  /** The waiting calls go out on the current channel, or fail REJECTED once they have tried long enough. */
  private flush(): void {
    const now = Date.now();
    for (const call of [...this.waiting]) {
      this.waiting.delete(call);
      if (call.done) continue;
      const tried = { firstNackAt: call.firstNackAt ?? now, deadline: call.deadline };
      if (nackVerdict({ acked: false }, tried, now) === 'reject') this.host.reject(call);
      else this.host.publish(call);
    }
  }

  private async renew(broken: Lane): Promise<void> {
    let fresh: Lane;
    try {
      fresh = await this.host.open();
    } catch {
      // the connection is going: the link's loss deals with it (and with the calls still pending)
      this.timer = undefined;
      return;
    }
    this.timer = undefined;
    if (this.host.disposed() || this.host.current() !== broken) {
      void fresh.channel.close().catch(() => undefined);
      return;
    }
    this.host.adopt(fresh);
    this.host.renewed(++this.renewals);
    this.flush();
    if (this.replyMode === 'direct' || broken !== this.replyLane) {
      const timer = setTimeout(() => {
        this.retired.delete(timer);
        broken.closed = true;
        void broken.channel.close().catch(() => undefined);
      }, LANE_RETIRE_MS);
      this.retired.add(timer);
    }
  }
}
