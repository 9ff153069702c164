import { DEADLINE_HEADER, DIRECT_REPLY_TO, TEXT_CONTENT_TYPE } from '@app/contracts';
import { probeWritePermission, QueueProbe } from '@app/runtime';
import { ChannelModel, ConsumeMessage, Message } from 'amqplib';
import { isSilent, nackVerdict } from './failover.policy';
import { LaneRenewal } from './lane-renewal';
import { PendingCall } from './pending-calls';
import { PublishFields } from './publish-fields';
import { countConfirm, Lane, openLane, publishOnLane } from './request-lane';
import { WorkerPresence } from './worker-presence';

/** What a session tells its client. */
export interface RequestSessionEvents {
  reply(message: ConsumeMessage): void;
  /** `basic.return` of a mandatory publish: no queue by that name. */
  returned(correlationId: string | undefined): void;
  /** The broker nacked this call's request. */
  rejected(call: PendingCall): void;
  /** This session's link is dead (silent, or a channel gone): drop it. */
  lost(session: RequestSession, reason: string, silent: boolean): void;
  /** The request queue's consumers, confirmed zero: nobody is left to answer. */
  noneLeft(): void;
  /** Publishing moved to a fresh channel (one nacked before it ever confirmed); `n`: this link's how many. */
  channelReplaced(n: number): void;
  /** The broker blocks the connection (a resource alarm), as the link knows it. */
  isBlocked(): boolean;
}

export interface RequestSessionSettings {
  queue: string;
  replyMode: 'queue' | 'direct';
  /** 0: no publisher confirms. */
  confirmTimeoutMs: number;
  consumerCheckIntervalMs: number;
  consumerCheckTimeoutMs: number;
}

/**
 * What one broker link made for the RPC client, and everything true only while it lives: the
 * request channel(s) and their publisher confirms, the reply path and its consumer, whether the
 * socket drains, the confirm watch, and the worker presence check. Made by `open` during the link's
 * set-up and disposed with the link, so nothing of a dead link can act on the next one.
 */
export class RequestSession {
  readonly replyTo: string;
  readonly presence: WorkerPresence;
  /** The socket buffered past its high-water mark: refuse calls until 'drain'. */
  notDraining = false;
  private lane: Lane;
  /** Fresh request channels for calls nacked on one that never had a confirm. */
  private readonly renewal: LaneRenewal;
  private lastHeardAt = Date.now();
  private flowEndedAt = 0;
  private confirmTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly settings: RequestSessionSettings,
    private readonly events: RequestSessionEvents,
    lane: Lane,
    replyTo: string,
    initialConsumers: number,
    probe: QueueProbe,
  ) {
    this.lane = lane;
    this.replyTo = replyTo;
    this.renewal = new LaneRenewal(
      {
        current: () => this.lane,
        open: () => this.openFreshLane(),
        adopt: (fresh) => {
          fresh.channel.on('return', (message: Message) => this.onReturn(message));
          this.lane = fresh;
        },
        publish: (call) => this.publish(call, settings.queue),
        reject: (call) => events.rejected(call),
        renewed: (n) => events.channelReplaced(n),
        disposed: () => this.disposed,
      },
      settings.replyMode,
      lane,
    );
    this.presence = new WorkerPresence(
      probe,
      settings.consumerCheckIntervalMs,
      settings.consumerCheckTimeoutMs,
      initialConsumers,
      {
        heard: () => this.heard(),
        noneLeft: () => events.noneLeft(),
        silent: (ms) => events.lost(this, `no answer to the consumer check within ${ms} ms`, true),
        isBlocked: () => events.isBlocked(),
      },
    );
  }

  /** The link's set-up: request channel, reply path, write-permission probe, first consumer count. */
  static async open(
    connection: ChannelModel,
    settings: RequestSessionSettings,
    events: RequestSessionEvents,
  ): Promise<RequestSession> {
    // The channel's listeners are made before the session they report to: until then they do nothing.
    const made: { session?: RequestSession } = {};
    const lane = await openLane(connection, settings, {
      closed: (lane) => made.session?.onLaneClosed(lane),
      drained: () => made.session?.onDrain(),
    });
    const replyTo =
      settings.replyMode === 'direct'
        ? DIRECT_REPLY_TO
        : (await lane.channel.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    await lane.channel.consume(replyTo, (message) => made.session?.onReply(message), { noAck: true });
    // Requests go through the default exchange: a user without write there is refused here, not at the first call.
    probeWritePermission(lane.channel);
    await lane.channel.prefetch(0);
    const probe = new QueueProbe(connection, settings.queue);
    const consumers = await probe.consumerCount().catch(() => 0);
    const session = new RequestSession(connection, settings, events, lane, replyTo, consumers, probe);
    made.session = session;
    lane.channel.on('return', (message: Message) => made.session?.onReturn(message));
    return session;
  }

  /** Publishes a call's request with what is left of its deadline; throws if the channel is gone. */
  publish(call: PendingCall, routingKey: string): void {
    const lane = this.lane;
    const remainingMs = Math.max(1, call.deadline - Date.now());
    const extra = call.options.headers;
    // A plain object of own keys: amqplib encodes it on its fast path (see PublishFields).
    const headers: Record<string, unknown> =
      extra === undefined ? { [DEADLINE_HEADER]: call.deadline } : { ...extra, [DEADLINE_HEADER]: call.deadline };
    call.span?.sent(headers, call.id);
    const fields = new PublishFields(
      routingKey,
      TEXT_CONTENT_TYPE,
      this.replyTo,
      call.id,
      String(remainingMs),
      call.options.messageId,
      headers,
    );
    if (lane.confirms !== undefined) call.sentOn = lane;
    const written = publishOnLane(lane, fields, call.body, (error) => this.onConfirm(lane, call, error));
    if (lane.confirms !== undefined) this.watchConfirms();
    if (!written) this.notDraining = true;
  }

  /** Flow control began or ended on the link: nothing is confirmed meanwhile, by design. */
  flowChanged(): void {
    this.flowEndedAt = Date.now();
  }

  /** Stops every timer; the link's connection (and so every channel) is closed by the broker link. */
  dispose(): void {
    this.disposed = true;
    this.presence.dispose();
    clearTimeout(this.confirmTimer);
    this.renewal.dispose();
  }

  private heard(): void {
    this.lastHeardAt = Date.now();
  }

  private onReply(message: ConsumeMessage | null): void {
    if (this.disposed) return;
    if (message === null) {
      this.events.lost(this, 'reply consumer cancelled by the broker', false);
      return;
    }
    this.heard();
    this.events.reply(message);
  }

  /** No queue took a mandatory request: no worker until a fresh count says otherwise. */
  private onReturn(message: Message): void {
    this.heard();
    this.presence.count = 0;
    this.events.returned((message.properties as { correlationId?: string }).correlationId);
  }

  private onDrain(): void {
    this.flowEndedAt = Date.now();
    if (this.disposed) return;
    this.notDraining = false;
  }

  private onLaneClosed(lane: Lane): void {
    // A channel closing alone would leave a half-working client; drop the whole link instead.
    if (this.disposed || lane !== this.lane) return;
    const reason = lane.error === undefined ? 'request channel closed' : `request channel closed: ${lane.error}`;
    this.events.lost(this, reason, false);
  }

  /** The broker's confirm of one request. A closing channel's error callbacks are no nacks. */
  private onConfirm(lane: Lane, call: PendingCall, error: unknown): void {
    const confirm = countConfirm(lane, error);
    if (confirm === 'closing') return;
    this.heard();
    if (confirm === 'ack' || call.done || call.sentOn !== lane || this.disposed) return;
    const now = Date.now();
    call.firstNackAt ??= now;
    if (nackVerdict(lane, { firstNackAt: call.firstNackAt, deadline: call.deadline }, now) === 'reject') {
      this.events.rejected(call);
      return;
    }
    this.renewal.wait(call, lane);
  }

  private async openFreshLane(): Promise<Lane> {
    const fresh = await openLane(this.connection, this.settings, {
      closed: (lane) => this.onLaneClosed(lane),
      drained: () => this.onDrain(),
    });
    if (this.settings.replyMode === 'direct') {
      await fresh.channel.consume(DIRECT_REPLY_TO, (message) => this.onReply(message), { noAck: true });
    }
    return fresh;
  }

  /** Drops the link when a publish stays unconfirmed and nothing else comes back either (see isSilent). */
  private watchConfirms(delayMs = this.settings.confirmTimeoutMs): void {
    if (this.confirmTimer !== undefined || this.disposed) return;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = undefined;
      const lane = this.lane;
      if (this.disposed || lane.unconfirmed === 0) return;
      const now = Date.now();
      if (this.events.isBlocked() || this.notDraining) this.flowEndedAt = now;
      const facts = { ...lane, lastHeardAt: this.lastHeardAt, flowEndedAt: this.flowEndedAt, now };
      if (isSilent({ ...facts, timeoutMs: this.settings.confirmTimeoutMs })) {
        const reason = `no confirm nor anything else from the broker within ${this.settings.confirmTimeoutMs} ms`;
        this.events.lost(this, reason, true);
        return;
      }
      const quietSince = Math.max(lane.unconfirmedSince, this.lastHeardAt, this.flowEndedAt);
      this.watchConfirms(Math.max(10, quietSince + this.settings.confirmTimeoutMs - now));
    }, delayMs);
  }
}
