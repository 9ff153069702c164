import { closeConnection, describeError, destroyConnection } from '@app/runtime';
import { ChannelModel, ConfirmChannel } from 'amqplib';
import { isBrokerRefusal, isRefusedAddressClose, openReplyConnection } from './reply-connection';
import { Reply, ReplyOutcome, ReplyPublisherOptions } from './reply-publisher.interfaces';

interface Sent {
  readonly reply: Reply;
  readonly at: number;
}

type State = 'opening' | 'ready' | 'recovering' | 'broken' | 'closed';

/**
 * The worker's replies, on a connection of their own with publisher confirms.
 * RabbitMQ 3.10 closes the whole publishing connection (541) on a reply to a
 * direct reply-to address it cannot resolve (a node or channel that is gone);
 * on this connection that costs neither the consuming link nor its unacked
 * requests. The confirms say which replies went down with it: those are
 * re-sent on a new connection, first one per address and alone, so the
 * address that closes it again is known for certain and its replies are
 * settled `unreachable` — each costs one reconnect, once. A request is acked
 * only once its reply is confirmed or definitively refused.
 */
export class ReplyPublisher {
  private state: State = 'opening';
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private blockedReason: string | undefined;
  /** Published, awaiting the broker's confirm, in publish order. */
  private readonly outstanding = new Set<Sent>();
  /** Not yet published: arrived while opening or recovering. */
  private waiting: Reply[] = [];
  /** Went down with a closed connection and not yet re-sent (recovery). */
  private held: Reply[] = [];
  private probe: { at: number; done: (outcome: ReplyOutcome) => void } | undefined;
  private fruitless = 0;

  constructor(private readonly options: ReplyPublisherOptions) {}

  /** Why the broker blocks this connection's publishing (a resource alarm), while it does. */
  get blocked(): string | undefined {
    return this.blockedReason;
  }

  /** How long the oldest reply has waited for its confirm (0: none waits); a silent link shows here. */
  unconfirmedForMs(now: number): number {
    const oldest = Math.min(this.outstanding.values().next().value?.at ?? Infinity, this.probe?.at ?? Infinity);
    return oldest === Infinity ? 0 : now - oldest;
  }

  /** Opens the reply connection; rejects when it cannot be opened (e.g. 403: no write on the default exchange). */
  async open(): Promise<void> {
    try {
      await this.openConnection();
    } catch (error) {
      // The consuming link just came up on this node: one reset or timeout is worth one more try, a refusal is not.
      if (isBrokerRefusal(error) || this.ended()) throw error;
      await this.openConnection();
    }
    if (this.state !== 'opening' || this.connection === undefined)
      throw new Error('reply connection closed during set-up');
    this.state = 'ready';
    for (const reply of this.waiting.splice(0)) this.publish(reply);
  }

  publish(reply: Reply): void {
    if (this.state === 'broken' || this.state === 'closed') return reply.settle('lost');
    if (this.options.unreachable.has(reply.replyTo)) return reply.settle('unreachable');
    if (this.state !== 'ready') {
      this.waiting.push(reply);
      return;
    }
    const sent: Sent = { reply, at: Date.now() };
    try {
      (this.channel as ConfirmChannel).publish('', reply.replyTo, reply.body, reply.properties, (error: unknown) =>
        this.onConfirm(sent, error),
      );
    } catch {
      // amqplib encodes before it writes: a property it cannot encode (raw bytes decoded as UTF-8 past 255 bytes).
      reply.settle('unencodable');
      return;
    }
    this.outstanding.add(sent);
  }

  /** Closes politely once the replies are confirmed (a worker closing has waited for them). */
  async close(): Promise<void> {
    const connection = this.connection;
    this.dispose();
    if (connection !== undefined) await closeConnection(connection);
  }

  /** The link is gone: whatever is not confirmed is lost with it. */
  dispose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.settleAll('lost');
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    if (connection !== undefined) destroyConnection(connection, 'link closed');
  }

  private onConfirm(sent: Sent, error: unknown): void {
    if (error == null) {
      if (this.outstanding.delete(sent)) sent.reply.settle('confirmed');
      return;
    }
    // A nack, or the channel closing: a close (handled synchronously after this) has taken it as a suspect.
    setImmediate(() => {
      if (this.outstanding.delete(sent)) sent.reply.settle('refused');
    });
  }

  private onClose(connection: ChannelModel, error: unknown): void {
    if (connection !== this.connection) return;
    this.connection = undefined;
    this.channel = undefined;
    this.blockedReason = undefined;
    const suspects = [...this.outstanding].map((sent) => sent.reply);
    this.outstanding.clear();
    const refused = isRefusedAddressClose(error);
    if (this.probe !== undefined) {
      this.probe.done(refused ? 'unreachable' : 'lost');
      return;
    }
    if (this.state !== 'ready' && this.state !== 'recovering') return;
    if (!refused || suspects.length === 0) {
      this.held.push(...suspects);
      this.break(`reply connection closed: ${describeError(error ?? 'by the broker')}`);
      return;
    }
    this.options.onRefusedClose(error, suspects.length);
    void this.recover(suspects);
  }

  /** One reply per address, alone on the connection: a 541 then names its address for certain. */
  private async recover(suspects: Reply[]): Promise<void> {
    this.state = 'recovering';
    this.held.push(...suspects);
    let blamed = 0;
    for (const [address, replies] of byAddress(suspects)) {
      if (this.options.unreachable.has(address)) {
        this.release(replies, 'unreachable');
        continue;
      }
      if (!(await this.reopen())) return;
      const outcome = await this.probeWith(replies[0]);
      if (this.state !== 'recovering') return;
      if (outcome === 'lost') {
        this.break('reply connection lost while re-sending replies');
        return;
      }
      if (outcome === 'unreachable') {
        this.options.unreachable.add(address);
        blamed++;
        this.release(replies, 'unreachable');
      } else {
        this.release([replies[0]], outcome);
      }
    }
    // 541s that no address explains are not ours to fix: let the link start over, with its backoff.
    this.fruitless = blamed > 0 ? 0 : this.fruitless + 1;
    if (this.fruitless >= 2) {
      this.break('the broker keeps closing the reply connection (541) and no reply address explains it');
      return;
    }
    if (!(await this.reopen())) return;
    this.state = 'ready';
    const again = [...this.held, ...this.waiting.splice(0)];
    this.held = [];
    for (const reply of again) this.publish(reply);
  }

  private probeWith(reply: Reply): Promise<ReplyOutcome> {
    return new Promise<ReplyOutcome>((resolve) => {
      const done = (outcome: ReplyOutcome): void => {
        if (this.probe?.done !== done) return;
        this.probe = undefined;
        resolve(outcome);
      };
      this.probe = { at: Date.now(), done };
      try {
        (this.channel as ConfirmChannel).publish('', reply.replyTo, reply.body, reply.properties, (error: unknown) =>
          error == null ? done('confirmed') : setImmediate(() => done('refused')),
        );
      } catch {
        done('unencodable');
      }
    });
  }

  private async reopen(): Promise<boolean> {
    if (this.connection !== undefined) return true;
    try {
      await this.openConnection();
    } catch (error) {
      this.break(`reply connection cannot be reopened: ${describeError(error)}`);
      return false;
    }
    return this.state === 'recovering';
  }

  private async openConnection(): Promise<void> {
    const { connection, channel } = await openReplyConnection(
      () => this.options.connect(),
      () => this.ended(),
      {
        onClose: (error) => this.onClose(connection, error),
        onBlocked: (reason) => (this.blockedReason = reason),
      },
    );
    this.connection = connection;
    this.channel = channel;
  }

  /** Broken or closed: across an await the state may have moved on. */
  private ended(): boolean {
    return this.state === 'broken' || this.state === 'closed';
  }

  private release(replies: Reply[], outcome: ReplyOutcome): void {
    const settled = new Set(replies);
    this.held = this.held.filter((reply) => !settled.has(reply));
    for (const reply of replies) reply.settle(outcome);
  }

  private break(reason: string): void {
    if (this.state === 'broken' || this.state === 'closed') return;
    this.state = 'broken';
    this.settleAll('lost');
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    if (connection !== undefined) destroyConnection(connection, reason);
    this.options.onBroken(reason);
  }

  private settleAll(outcome: ReplyOutcome): void {
    const replies = [...[...this.outstanding].map((sent) => sent.reply), ...this.held, ...this.waiting];
    this.outstanding.clear();
    this.held = [];
    this.waiting = [];
    this.probe?.done(outcome);
    for (const reply of replies) reply.settle(outcome);
  }
}

function byAddress(replies: Reply[]): Map<string, Reply[]> {
  const groups = new Map<string, Reply[]>();
  for (const reply of replies) {
    const group = groups.get(reply.replyTo);
    if (group === undefined) groups.set(reply.replyTo, [reply]);
    else group.push(reply);
  }
  return groups;
}
