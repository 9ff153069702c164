import {
  DEADLINE_HEADER,
  decodeErrorReply,
  DIRECT_REPLY_TO,
  ERROR_REPLY_TYPE,
  TEXT_CONTENT_TYPE,
} from '@app/contracts';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { RpcClientSpan, startRpcClientSpan } from '@app/observability/tracing';
import { askWithin, BrokerLink, describeError, probeWritePermission, QueueProbe } from '@app/runtime';
import { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import { randomBytes } from 'node:crypto';
import {
  BrokerUnavailableError,
  CallCancelledError,
  ClientClosedError,
  ConnectionLostError,
  FlowControlError,
  InvalidOptionsError,
  NoWorkerError,
  OverloadedError,
  RemoteRpcError,
  RpcClientError,
  RpcTimeoutError,
} from './errors';
import { MAX_TIMEOUT_MS, RPC_CLIENT_DEFAULTS } from './rpc-client.constants';
import { RpcCall, RpcCallOptions, RpcClientHealth, RpcClientOptions, RpcClientStats } from './rpc-client.interfaces';

/** A first zero consumer count after a non-zero one is checked again this soon (see onConsumerCount). */
const ZERO_RECHECK_MS = 300;

interface PendingCall {
  resolve(value: string): void;
  reject(error: RpcClientError): void;
  timer: NodeJS.Timeout;
  /** Absolute deadline, epoch ms. */
  deadline: number;
  timeoutMs: number;
  body: Buffer;
  options: RpcCallOptions;
  /** Times sent again after a lost link. */
  resends: number;
  /** Waiting for a link to be sent (again) on. */
  parked: boolean;
  /** Made while the client failed over, and not sent yet: it waits for the next link (failoverHoldMs). */
  held: boolean;
  /** The broker nacked it: it never reached the queue, so sending it again is no duplicate. */
  nacked: boolean;
  /** The session the request last went out on, and when (epoch ms); 0 once the broker confirmed it. */
  sentOn?: Session;
  sentAt: number;
  unlisten?: () => void;
  span: RpcClientSpan;
}

/** What one link's set-up made: the channel calls go out on, the reply path, the consumer check's channel. */
interface Session {
  connection: ChannelModel;
  channel: Channel;
  /** The same channel in confirm mode, unless confirmTimeoutMs is 0. */
  confirms: ConfirmChannel | undefined;
  /** The request channel has closed: amqplib then calls back every unconfirmed publish with an error that is no nack. */
  channelClosed: boolean;
  /** A nack was seen; the link is dropped once, after every nack of that read has marked its call. */
  refused: boolean;
  replyTo: string;
  /** The consumer check's passive declares. */
  probe: QueueProbe;
  initialConsumers: number;
}

/**
 * Request/reply over RabbitMQ, the tutorial's way, with answers to its open
 * questions: every call ends in a value or a typed error (deadline, no worker,
 * connection lost, overload, flow control, cancelled, remote error, closed),
 * never waits forever, and is never buffered to be sent late.
 *
 * The broker link (node list, bounded attempts, reconnects, close) is a
 * BrokerLink; this class supplies its set-up (reply path, first consumer
 * check) and keeps the pending calls: a Map keyed by correlation id, each
 * with its own deadline timer.
 */
export class RpcClient implements OnModuleInit, OnApplicationShutdown {
  readonly stats: RpcClientStats = {
    unknownReplies: 0,
    reconnects: 0,
    silentLinkDrops: 0,
    refusedLinkDrops: 0,
    resends: 0,
    cancelled: 0,
  };

  private readonly options: typeof RPC_CLIENT_DEFAULTS & RpcClientOptions;
  private readonly logger = new Logger(RpcClient.name);
  private readonly pending = new Map<string, PendingCall>();
  private readonly idPrefix = `${randomBytes(6).toString('base64url')}.`;
  private readonly link: BrokerLink<Session>;
  private nextId = 0;
  private everUp = false;
  private closing = false;
  private consumers = 0;
  private notDraining = false;
  private checkTimer: NodeJS.Timeout | undefined;
  private zeroSuspected = false;
  private onDrained: (() => void) | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;
  /** While failing over after a lost link: new calls wait for the next link until then (epoch ms). */
  private holdUntil = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  /** Last time publishing was held back (flow control): confirms are not expected before it (epoch ms). */
  private flowSeenAt = 0;

  constructor(options: RpcClientOptions = {}) {
    this.options = { ...RPC_CLIENT_DEFAULTS, ...withoutUndefined(options) };
    const { queue } = this.options;
    checkInteger(queue, 'timeoutMs', this.options.timeoutMs, 1, MAX_TIMEOUT_MS);
    checkInteger(queue, 'maxInFlight', this.options.maxInFlight, 1, 10_000_000);
    checkInteger(queue, 'consumerCheckIntervalMs', this.options.consumerCheckIntervalMs, 1, MAX_TIMEOUT_MS);
    checkInteger(queue, 'consumerCheckTimeoutMs', this.options.consumerCheckTimeoutMs, 1, MAX_TIMEOUT_MS);
    checkInteger(queue, 'maxResends', this.options.maxResends, 0, 100);
    checkInteger(queue, 'confirmTimeoutMs', this.options.confirmTimeoutMs, 0, MAX_TIMEOUT_MS);
    checkInteger(queue, 'failoverHoldMs', this.options.failoverHoldMs, 0, MAX_TIMEOUT_MS);
    this.link = new BrokerLink<Session>({
      urls: this.options.urls ?? [this.options.url],
      connectionName: this.options.connectionName,
      heartbeatS: this.options.heartbeatS,
      connectTimeoutMs: this.options.connectTimeoutMs,
      reconnectDelayMs: this.options.reconnectDelayMs,
      tls: this.options.tls,
      auth: this.options.auth,
      logger: this.logger,
      setup: (connection) => this.setUp(connection),
      onUp: (session, node) => this.onUp(session, node),
      onDown: (session, reason) => this.onDown(session, reason),
      explain: (error) => explainRefusal(error, this.options.replyMode),
      onFlow: () => {
        this.flowSeenAt = Date.now();
      },
      onAttemptFailed: (consecutive) => {
        // Every node refused once: no link is coming soon, so calls kept to be sent again fail now (503).
        if (consecutive >= this.nodeCount) this.failParked('no broker node reachable');
      },
    });
  }

  private get nodeCount(): number {
    return this.options.urls?.length ?? 1;
  }

  /** True while connected with a reply path and not closing: calls can be sent. */
  get isConnected(): boolean {
    return !this.closing && this.link.status.state === 'ready';
  }

  /** Consumers of the request queue at the last check (0 when it is absent). */
  get consumerCount(): number {
    return this.consumers;
  }

  /** Calls waiting for their reply. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get queue(): string {
    return this.options.queue;
  }

  /** Up when calls can be sent; otherwise down, with the reason. */
  health(): RpcClientHealth {
    const status = this.link.status;
    if (this.closing)
      return { status: 'down', state: status.state === 'closed' ? 'closed' : 'closing', reason: 'closing' };
    if (status.state !== 'ready') {
      return { status: 'down', state: status.state, reason: status.problem ?? 'connecting to the broker' };
    }
    const held = this.flowControl();
    if (held !== undefined) return { status: 'down', state: status.state, node: status.node, reason: held };
    return { status: 'up', state: status.state, node: status.node };
  }

  /** Starts connecting; resolves after the first attempt, whatever its outcome (it keeps retrying). */
  connect(): Promise<void> {
    return this.link.start();
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /**
   * Sends `body` to the request queue and resolves with the reply body as text.
   * Rejects with an RpcClientError subclass; see RpcClientErrorCode.
   */
  call(body: Buffer, options: RpcCallOptions = {}): Promise<string> {
    return this.send(body, options).reply;
  }

  /** Like `call`, also telling the correlation id the request went out with (for logs). */
  send(body: Buffer, options: RpcCallOptions = {}): RpcCall {
    const span = startRpcClientSpan(this.options.queue, body);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const failure = this.refusal(timeoutMs, options.signal);
    if (failure !== undefined && failure !== 'hold')
      return { correlationId: undefined, reply: span.endWith(Promise.reject(failure)) };
    const held = failure === 'hold';
    const session = this.link.session as Session;
    const correlationId = this.idPrefix + (this.nextId++).toString(36);

    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => this.onDeadline(correlationId, timeoutMs), timeoutMs);
      const call: PendingCall = {
        resolve,
        reject,
        timer,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
        body,
        options,
        resends: 0,
        parked: held,
        held,
        nacked: false,
        sentAt: 0,
        span,
      };
      this.pending.set(correlationId, call);
      const signal = options.signal;
      if (signal !== undefined) {
        const onAbort = (): void => {
          if (this.settle(correlationId) === undefined) return;
          this.stats.cancelled++;
          reject(new CallCancelledError(this.options.queue, correlationId));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        call.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      if (held) span.event('held');
      else this.publish(session, correlationId, call);
    });
    return { correlationId, reply: span.endWith(reply) };
  }

  /**
   * Stops taking calls, lets pending ones finish (each is bounded by its
   * deadline) unless `drain` is false, then closes the link. Every pending
   * call is settled, and no timer, connection or retry is left, when this resolves.
   */
  async close({ drain = true }: { drain?: boolean } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (drain && this.pending.size > 0 && this.link.status.state === 'ready') {
      await new Promise<void>((resolve) => (this.onDrained = resolve));
    }
    this.failAll(() => new ClientClosedError(this.options.queue));
    this.stopConsumerChecks();
    this.stopConfirmWatch();
    this.endHold();
    await this.link.close();
  }

  /** Why a new call is refused; 'hold' while failing over: it waits for the next link (see onDown). */
  private refusal(timeoutMs: number, signal: AbortSignal | undefined): RpcClientError | 'hold' | undefined {
    const { queue } = this.options;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      return new InvalidOptionsError(queue, 'timeoutMs', timeoutMs, `an integer from 1 to ${MAX_TIMEOUT_MS}`);
    }
    if (this.closing) return new ClientClosedError(queue);
    if (signal?.aborted) {
      this.stats.cancelled++;
      return new CallCancelledError(queue, undefined);
    }
    if (this.link.status.state !== 'ready') {
      if (Date.now() >= this.holdUntil) return new BrokerUnavailableError(queue);
      return this.pending.size >= this.options.maxInFlight
        ? new OverloadedError(queue, this.options.maxInFlight)
        : 'hold';
    }
    const held = this.flowControl();
    if (held !== undefined) return new FlowControlError(queue, held);
    if (this.consumers === 0) return new NoWorkerError(queue, 'no-consumers');
    if (this.pending.size >= this.options.maxInFlight) return new OverloadedError(queue, this.options.maxInFlight);
    return undefined;
  }

  /** Why calls are held back while the link is up: the broker's block, or a socket that is not draining. */
  private flowControl(): string | undefined {
    const blocked = this.link.status.blocked;
    if (blocked !== undefined) return `broker blocked publishing: ${blocked}`;
    return this.notDraining ? 'socket not draining' : undefined;
  }

  private publish(session: Session, correlationId: string, call: PendingCall): void {
    // What is left of the deadline: the whole timeout on a first send, less on a held call or a re-send.
    const remainingMs = Math.max(1, call.deadline - Date.now());
    const headers = { ...call.options.headers, [DEADLINE_HEADER]: call.deadline };
    call.span.sent(headers, correlationId);
    const options = {
      correlationId,
      replyTo: session.replyTo,
      expiration: remainingMs,
      contentType: TEXT_CONTENT_TYPE,
      mandatory: true,
      messageId: call.options.messageId,
      headers,
    };
    try {
      let written: boolean;
      if (session.confirms === undefined) {
        written = session.channel.publish('', this.options.queue, call.body, options);
      } else {
        call.sentOn = session;
        call.sentAt = Date.now();
        written = session.confirms.publish('', this.options.queue, call.body, options, (error) =>
          this.onConfirm(session, correlationId, call, error),
        );
        this.watchConfirms(session);
      }
      // Sent, but buffered past the high-water mark: refuse further calls until 'drain'.
      if (!written) this.notDraining = true;
    } catch (error) {
      // The channel closed under us; its close handler drops the link and deals with the other calls.
      this.logger.warn(`request not published: ${describeError(error)}`);
      this.settle(correlationId)?.reject(new ConnectionLostError(this.options.queue, correlationId));
    }
  }

  /**
   * The broker's confirm of one request: it is in the queue. A nack means this channel cannot deliver to the
   * queue: RabbitMQ 3.10 nacks every publish of a channel opened while the quorum queue's leader was being
   * lost with its node, and goes on nacking after a new leader is elected, while a fresh channel works. The
   * link is dropped; the nacked calls, which never reached the queue, are sent again on the next link
   * whatever resendOnLinkLoss says (the others as it says). A channel closing calls back every unconfirmed
   * publish with an error, which is no nack: the link's loss handles those.
   */
  private onConfirm(session: Session, correlationId: string, call: PendingCall, error: unknown): void {
    if (call.sentOn !== session || this.pending.get(correlationId) !== call) return;
    call.sentAt = 0;
    if (error === null || error === undefined || session.channelClosed || this.link.session !== session) return;
    call.nacked = true;
    if (session.refused) return;
    session.refused = true;
    // One nack frame may cover many requests (`multiple`), and one read may hold several frames: all are
    // marked before the link goes.
    setImmediate(() => {
      if (this.link.session !== session) return;
      this.stats.refusedLinkDrops++;
      this.link.drop('the broker refused a request (basic.nack)');
    });
  }

  /**
   * A request the broker has taken and not confirmed after confirmTimeoutMs: the link is silent (half-open,
   * frozen node), and it is dropped like one whose consumer check got no answer; calls in flight are re-sent
   * on the next link as resendOnLinkLoss says. Not while publishing is held back (flow control): then
   * nothing is confirmed, by design, and the wait counts from its end.
   */
  private watchConfirms(session: Session, delayMs = this.options.confirmTimeoutMs): void {
    if (this.confirmTimer !== undefined) return;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = undefined;
      if (this.link.session !== session) return;
      const now = Date.now();
      let oldest = Number.POSITIVE_INFINITY;
      for (const call of this.pending.values()) {
        if (call.sentOn === session && call.sentAt > 0 && call.sentAt < oldest) oldest = call.sentAt;
      }
      if (oldest === Number.POSITIVE_INFINITY) return;
      const timeoutMs = this.options.confirmTimeoutMs;
      if (this.flowControl() !== undefined) {
        this.flowSeenAt = now;
        this.watchConfirms(session);
        return;
      }
      // The wait is counted from the send, or from the end of flow control if that came later.
      const since = Math.max(oldest, this.flowSeenAt);
      if (now - since < timeoutMs) {
        this.watchConfirms(session, Math.max(10, since + timeoutMs - now));
        return;
      }
      // the broker took a request and said nothing for that long: as silent as an unanswered consumer check
      this.stats.silentLinkDrops++;
      this.link.drop(`no confirm from the broker within ${timeoutMs} ms`);
    }, delayMs);
  }

  private stopConfirmWatch(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
  }

  /** Removes a pending call, its timer and abort listener; undefined if it was not pending. */
  private settle(correlationId: string): PendingCall | undefined {
    const call = this.pending.get(correlationId);
    if (call === undefined) return undefined;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    call.unlisten?.();
    if (this.onDrained !== undefined && this.pending.size === 0) this.onDrained();
    return call;
  }

  private onDeadline(correlationId: string, timeoutMs: number): void {
    const call = this.settle(correlationId);
    if (call === undefined) return;
    // A call still waiting for a link to be re-sent on never reached a worker: the broker was the problem (503), not the worker (504).
    call.reject(
      call.held
        ? new BrokerUnavailableError(this.options.queue)
        : call.parked
          ? new ConnectionLostError(this.options.queue, correlationId)
          : new RpcTimeoutError(this.options.queue, correlationId, timeoutMs),
    );
  }

  private async setUp(connection: ChannelModel): Promise<Session> {
    const confirms = this.options.confirmTimeoutMs > 0 ? await connection.createConfirmChannel() : undefined;
    const channel = confirms ?? (await connection.createChannel());
    const session: Session = {
      connection,
      channel,
      confirms,
      channelClosed: false,
      refused: false,
      replyTo: '',
      probe: new QueueProbe(connection, this.options.queue),
      initialConsumers: 0,
    };
    // Set-up failures are logged once by the broker link; only a live session's channel errors are news.
    channel.on('error', (error: unknown) => {
      if (this.link.session === session) this.logger.warn(`channel error: ${describeError(error)}`);
    });
    // A channel closing alone would leave a half-working client; drop the whole link instead.
    channel.on('close', () => this.dropIfLive(session, 'request channel closed'));
    channel.on('return', (message: Message) => this.onReturn(message));
    // Before amqplib's own 'close' listener, which calls back every unconfirmed publish with an error.
    channel.prependListener('close', () => {
      session.channelClosed = true;
    });
    channel.on('drain', () => {
      this.flowSeenAt = Date.now();
      if (this.link.session === session) this.notDraining = false;
    });
    if (this.options.replyMode === 'direct') {
      session.replyTo = DIRECT_REPLY_TO;
    } else {
      session.replyTo = (await channel.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    }
    await channel.consume(session.replyTo, (message) => this.onReply(session, message), { noAck: true });
    // Requests go through the default exchange: a user without write there is refused here, not at the first call.
    probeWritePermission(channel);
    await channel.prefetch(0);
    session.initialConsumers = await this.countConsumers(session);
    return session;
  }

  private onUp(session: Session, node: string): void {
    this.endHold();
    this.notDraining = false;
    if (this.everUp) this.stats.reconnects++;
    this.everUp = true;
    const path = this.options.replyMode === 'direct' ? session.replyTo : 'callback queue';
    this.logger.log(
      `connected to ${node}; reply path ${path}; ${session.initialConsumers} consumer(s) on ${this.options.queue}`,
    );
    this.resendParked(session);
    this.zeroSuspected = false;
    this.onConsumerCount(session, session.initialConsumers);
  }

  private onDown(_session: Session, reason: string): void {
    this.stopConsumerChecks();
    this.stopConfirmWatch();
    if (this.closing) {
      this.failAll(() => new ClientClosedError(this.options.queue));
      return;
    }
    let failed = 0;
    let parked = 0;
    const now = Date.now();
    for (const [id, call] of [...this.pending]) {
      // A nacked request never reached the queue: sending it again is not a re-send of a delivered one.
      const allowed = call.nacked || (this.options.resendOnLinkLoss && call.resends < this.options.maxResends);
      if (allowed && call.deadline > now) {
        call.parked = true;
        parked++;
      } else {
        this.settle(id)?.reject(new ConnectionLostError(this.options.queue, id));
        failed++;
      }
    }
    if (failed + parked > 0) {
      this.logger.warn(`${reason}: ${failed} pending call(s) failed, ${parked} kept to be sent again on the next link`);
    }
    this.startHold();
  }

  /**
   * Failing over to another node takes a reconnect (milliseconds when a node answers): for up to
   * failoverHoldMs after a lost link, new calls wait for the next link instead of failing 503 — bounded by
   * their deadline, by the window, and by every node refusing once. Only with several nodes to fail over
   * to (with one, a lost link is an outage: new calls fail at once), and never before the first link.
   */
  private startHold(): void {
    const holdMs = this.options.failoverHoldMs;
    if (holdMs === 0 || !this.everUp || this.nodeCount < 2) return;
    this.endHold();
    this.holdUntil = Date.now() + holdMs;
    this.holdTimer = setTimeout(() => this.failHeld(holdMs), holdMs);
  }

  private endHold(): void {
    this.holdUntil = 0;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  /** Calls whose link was lost, and calls held during the failover, go out on the new one, with what is left of their deadline. */
  private resendParked(session: Session): void {
    for (const [id, call] of this.pending) {
      if (!call.parked) continue;
      if (!call.held && !call.nacked) {
        call.resends++;
        this.stats.resends++;
      }
      call.parked = false;
      call.held = false;
      call.nacked = false;
      this.publish(session, id, call);
    }
  }

  /** The failover hold is over with no link: calls made during it fail now (503); calls in flight at the loss wait on. */
  private failHeld(holdMs: number): void {
    this.endHold();
    let failed = 0;
    for (const [id, call] of [...this.pending]) {
      if (!call.held) continue;
      this.settle(id)?.reject(new BrokerUnavailableError(this.options.queue));
      failed++;
    }
    if (failed > 0) this.logger.warn(`no link within the ${holdMs} ms failover hold: ${failed} new call(s) failed`);
  }

  /** No link soon: calls waiting for one fail now (503): held ones were never sent, parked ones were lost with their link. */
  private failParked(why: string): void {
    this.endHold();
    let failed = 0;
    for (const [id, call] of [...this.pending]) {
      if (!call.parked) continue;
      this.settle(id)?.reject(
        call.held ? new BrokerUnavailableError(this.options.queue) : new ConnectionLostError(this.options.queue, id),
      );
      failed++;
    }
    if (failed > 0) this.logger.warn(`${why}: ${failed} call(s) waiting for a link failed`);
  }

  private dropIfLive(session: Session, reason: string): void {
    if (this.link.session === session) this.link.drop(reason);
  }

  private readonly onReply = (session: Session, message: ConsumeMessage | null): void => {
    if (message === null) {
      // Our reply consumer was cancelled by the broker: treat it as a lost link.
      this.dropIfLive(session, 'reply consumer cancelled by the broker');
      return;
    }
    const { correlationId, type } = message.properties as { correlationId?: string; type?: string };
    const call = correlationId === undefined ? undefined : this.settle(correlationId);
    if (call === undefined) {
      this.stats.unknownReplies++;
      return;
    }
    if (type === ERROR_REPLY_TYPE) {
      const { code, message: text } = decodeErrorReply(message.content);
      call.reject(new RemoteRpcError(this.options.queue, correlationId as string, code, text));
    } else {
      call.resolve(message.content.toString('latin1'));
    }
  };

  /** `basic.return` of a mandatory publish: no queue by that name, so no worker. */
  private onReturn(message: Message): void {
    this.consumers = 0;
    const correlationId = (message.properties as { correlationId?: string }).correlationId;
    if (correlationId === undefined) return;
    this.settle(correlationId)?.reject(new NoWorkerError(this.options.queue, 'unroutable'));
  }

  private scheduleConsumerCheck(session: Session, delayMs = this.options.consumerCheckIntervalMs): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => void this.checkConsumers(session), delayMs);
  }

  private stopConsumerChecks(): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
  }

  /**
   * The periodic round trip: reads the request queue's consumer count, with a
   * bounded wait. No answer in time means the link is silent (half-open TCP,
   * frozen node): it is dropped like a closed one. Calls pending through two
   * checks in a row that saw no consumer fail at once: nobody is left to
   * answer them before their deadline.
   */
  private async checkConsumers(session: Session): Promise<void> {
    if (this.link.session !== session) return;
    const count = await askWithin(
      this.countConsumers(session),
      this.options.consumerCheckTimeoutMs,
      () => this.link.status.blocked !== undefined,
    );
    if (this.link.session !== session) return;
    if (count === 'silent') {
      this.stats.silentLinkDrops++;
      this.link.drop(`no answer to the consumer check within ${this.options.consumerCheckTimeoutMs} ms`);
      return;
    }
    this.onConsumerCount(session, count);
  }

  /**
   * RabbitMQ reports a quorum queue's consumers as 0 when its leader does not
   * answer within 250 ms (a leader election after a node loss): a first zero
   * after a non-zero count is checked again shortly before calls are refused.
   * A second zero in a row fails the calls pending: nobody is left to answer them.
   */
  private onConsumerCount(session: Session, count: number): void {
    if (count === 0 && this.consumers > 0 && !this.zeroSuspected) {
      this.zeroSuspected = true;
      this.scheduleConsumerCheck(session, ZERO_RECHECK_MS);
      return;
    }
    this.zeroSuspected = false;
    if (count === 0 && this.pending.size > 0) {
      const failed = this.failAll(() => new NoWorkerError(this.options.queue, 'no-consumers'));
      this.logger.warn(`no worker consuming ${this.options.queue}; ${failed} pending calls failed`);
    }
    this.consumers = count;
    this.scheduleConsumerCheck(session);
  }

  /** Consumer count, 0 when the queue is absent (404) or the link is going down (the link handles that). */
  private countConsumers(session: Session): Promise<number> {
    return session.probe.consumerCount().catch(() => 0);
  }

  private failAll(error: (correlationId: string) => RpcClientError): number {
    const ids = [...this.pending.keys()];
    for (const id of ids) this.settle(id)?.reject(error(id));
    return ids.length;
  }
}

/** One clear line for a broker that refuses this client's set-up, naming the permission it lacks. */
function explainRefusal(error: unknown, replyMode: 'queue' | 'direct'): string | undefined {
  // The server-named queue differs at every attempt: without its name, a refusal that repeats is one cause (logged once).
  const text = describeError(error).replace(/amq\.gen-[A-Za-z0-9_-]+/g, 'amq.gen-…');
  if (!/ACCESS_REFUSED|403/.test(text)) return undefined;
  // RabbitMQ's 403 text names the resource, not the permission: the refused method tells which.
  const lacks = /QueueDeclare/.test(text)
    ? 'configure on its server-named reply queue'
    : /BasicConsume/.test(text)
      ? 'read on its server-named reply queue'
      : /exchange 'amq\.default'/.test(text)
        ? 'write on the default exchange (to publish requests)'
        : undefined;
  // direct reply-to declares nothing and its pseudo-queue needs no permission
  const needed =
    replyMode === 'direct'
      ? "write '^amq\\.default$' (configure and read may be empty)"
      : "configure '^amq\\.gen-.*$' write '^amq\\.default$' read '^amq\\.gen-.*$'";
  return `access refused (${text}): ${lacks === undefined ? '' : `the gateway's broker user lacks ${lacks}; `}its permissions should be ${needed}`;
}

function checkInteger(queue: string, option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(queue, option, value, `an integer from ${min} to ${max}`);
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
