import { decodeErrorReply, ERROR_REPLY_TYPE } from '@app/contracts';
import { BrokerLink } from '@app/runtime';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConsumeMessage } from 'amqplib';
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
  RejectedError,
  RemoteRpcError,
  RpcClientError,
  RpcTimeoutError,
} from './errors';
import { admit, afterLinkLoss, deadlineOutcome } from './failover.policy';
import { PendingCall, PendingCalls } from './pending-calls';
import { RequestSession, RequestSessionEvents } from './request-session';
import { MAX_TIMEOUT_MS, RPC_CLIENT_DEFAULTS } from './rpc-client.constants';
import { RpcCall, RpcCallOptions, RpcClientHealth, RpcClientOptions, RpcClientStats } from './rpc-client.interfaces';
import { checkInteger, explainRefusal, withoutUndefined } from './rpc-client.options';

/**
 * Request/reply over RabbitMQ, the tutorial's way, with answers to its open questions: every call
 * ends in a value or a typed error (deadline, no worker, connection lost, refused, overload, flow
 * control, cancelled, remote error, closed), never waits forever, and is never buffered to be sent late.
 *
 * The broker link (node list, bounded attempts, reconnects, close) is a BrokerLink; each link's
 * state lives in its RequestSession; the calls in PendingCalls; the decisions in failover.policy.
 * This class admits calls and wires the three together.
 */
export class RpcClient implements OnModuleInit, OnApplicationShutdown {
  readonly stats: RpcClientStats = {
    unknownReplies: 0,
    reconnects: 0,
    silentLinkDrops: 0,
    rejected: 0,
    channelsReplaced: 0,
    resends: 0,
    cancelled: 0,
  };

  private readonly options: typeof RPC_CLIENT_DEFAULTS & RpcClientOptions;
  private readonly logger = new Logger(RpcClient.name);
  private readonly pending: PendingCalls;
  private readonly idPrefix = `${randomBytes(6).toString('base64url')}.`;
  private readonly link: BrokerLink<RequestSession>;
  private nextId = 0;
  private everUp = false;
  /** Consumers seen by the last link, carried to the next (a first zero after it is checked again). */
  private lastConsumers = 0;
  private closing: Promise<void> | undefined;
  /** While failing over after a lost link: new calls wait for the next link until then (epoch ms). */
  private holdUntil = 0;
  private holdTimer: NodeJS.Timeout | undefined;

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
    this.pending = new PendingCalls(
      (call) => this.expired(call),
      (call) => {
        this.stats.cancelled++;
        return new CallCancelledError(queue, call.id);
      },
    );
    this.link = new BrokerLink<RequestSession>({
      urls: this.options.urls ?? [this.options.url],
      connectionName: this.options.connectionName,
      heartbeatS: this.options.heartbeatS,
      connectTimeoutMs: this.options.connectTimeoutMs,
      reconnectDelayMs: this.options.reconnectDelayMs,
      tls: this.options.tls,
      auth: this.options.auth,
      logger: this.logger,
      setup: (connection) => RequestSession.open(connection, this.options, this.sessionEvents()),
      onUp: (session, node) => this.onUp(session, node),
      onDown: (session, reason) => this.onDown(session, reason),
      explain: (error) => explainRefusal(error, this.options.replyMode),
      onFlow: () => this.link.session?.flowChanged(),
      onAttemptFailed: (consecutive) => {
        // Every node refused once: no link is coming soon, so calls kept for one fail now (503).
        if (consecutive >= this.nodeCount) this.failWaiting('no broker node reachable');
      },
    });
  }

  private get nodeCount(): number {
    return this.options.urls?.length ?? 1;
  }

  /** True while connected with a reply path and not closing: calls can be sent. */
  get isConnected(): boolean {
    return this.closing === undefined && this.link.status.state === 'ready';
  }

  /** Consumers of the request queue at the last check (0 when it is absent). */
  get consumerCount(): number {
    return this.link.session?.presence.count ?? this.lastConsumers;
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
    if (this.closing !== undefined)
      return { status: 'down', state: status.state === 'closed' ? 'closed' : 'closing', reason: 'closing' };
    const held = this.flowControl();
    if (held !== undefined) return { status: 'down', state: status.state, node: status.node, reason: held };
    if (status.state !== 'ready') {
      return { status: 'down', state: status.state, reason: status.problem ?? 'connecting to the broker' };
    }
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
    const { queue } = this.options;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      return this.refused(
        new InvalidOptionsError(queue, 'timeoutMs', timeoutMs, `an integer from 1 to ${MAX_TIMEOUT_MS}`),
      );
    }
    if (options.signal?.aborted && this.closing === undefined) {
      this.stats.cancelled++;
      return this.refused(new CallCancelledError(queue, undefined));
    }
    const session = this.link.session;
    const admission = admit({
      closing: this.closing !== undefined,
      linkReady: session !== undefined,
      holding: Date.now() < this.holdUntil,
      flowHeld: this.flowControl(),
      consumers: session?.presence.count ?? 0,
      pending: this.pending.size,
      maxInFlight: this.options.maxInFlight,
    });
    switch (admission) {
      case 'closed':
        return this.refused(new ClientClosedError(queue));
      case 'unavailable':
        return this.refused(new BrokerUnavailableError(queue));
      case 'overloaded':
        return this.refused(new OverloadedError(queue, this.options.maxInFlight));
      case 'flow-control':
        return this.refused(new FlowControlError(queue, this.flowControl() ?? 'held back'));
      default:
    }
    const correlationId = this.idPrefix + (this.nextId++).toString(36);
    const state = admission === 'send' ? 'sent' : admission === 'hold' ? 'held' : 'checking';
    const reply = this.pending.add(correlationId, body, options, timeoutMs, state);
    const call = this.pending.get(correlationId) as PendingCall;
    if (admission === 'send') this.publish(session as RequestSession, call);
    else if (admission === 'recheck') void this.sendOnWorker(session as RequestSession, call);
    return { correlationId, reply };
  }

  /**
   * Stops taking calls, lets pending ones finish (each is bounded by its deadline) unless `drain`
   * is false, then closes the link. Every caller gets the same promise: every pending call is
   * settled, and no timer, connection or retry is left, when it resolves.
   */
  close({ drain = true }: { drain?: boolean } = {}): Promise<void> {
    this.closing ??= this.shutDown(drain);
    return this.closing;
  }

  private async shutDown(drain: boolean): Promise<void> {
    if (drain && this.link.status.state === 'ready') await this.pending.drained();
    this.pending.failWhere(
      () => true,
      () => new ClientClosedError(this.options.queue),
    );
    this.endHold();
    await this.link.close();
  }

  private refused(error: RpcClientError): RpcCall {
    return { correlationId: undefined, reply: Promise.reject(error) };
  }

  /** Why calls are held back: the broker's block (also while a link is set up), or a socket that is not draining. */
  private flowControl(): string | undefined {
    const blocked = this.link.status.blocked;
    if (blocked !== undefined) return `broker blocked publishing: ${blocked}`;
    return this.link.session?.notDraining ? 'socket not draining' : undefined;
  }

  private publish(session: RequestSession, call: PendingCall): void {
    call.state = 'sent';
    try {
      session.publish(call, this.options.queue);
    } catch (error) {
      // The channel closed under us; its close handler drops the link and deals with the other calls.
      this.logger.warn(`request not published: ${String(error)}`);
      this.pending.fail(call, new ConnectionLostError(this.options.queue, call.id));
    }
  }

  /** A call that met a cached zero: sent once a fresh count sees a worker, refused NO_WORKER on a fresh zero. */
  private async sendOnWorker(session: RequestSession, call: PendingCall): Promise<void> {
    const count = await session.presence.recheck();
    // A call whose link went meanwhile is the failover policy's (see onDown).
    if (call.done || this.link.session !== session || call.state !== 'checking') return;
    if (count === 'silent') return;
    if (count > 0) this.publish(session, call);
    else this.pending.fail(call, new NoWorkerError(this.options.queue, 'no-consumers'));
  }

  private expired(call: PendingCall): RpcClientError {
    const { queue } = this.options;
    switch (deadlineOutcome(call.state)) {
      case 'BROKER_UNAVAILABLE':
        return new BrokerUnavailableError(queue);
      case 'CONNECTION_LOST':
        return new ConnectionLostError(queue, call.id);
      default:
        return new RpcTimeoutError(queue, call.id, call.timeoutMs);
    }
  }

  /** What a link's session reports; a session acts on the link only while it is the live one. */
  private sessionEvents(): RequestSessionEvents {
    return {
      reply: (message) => this.onReply(message),
      returned: (correlationId) => this.onReturn(correlationId),
      rejected: (call) => {
        if (this.pending.fail(call, new RejectedError(this.options.queue, call.id))) this.stats.rejected++;
      },
      lost: (session, reason, silent) => {
        if (this.link.session !== session) return;
        if (silent) this.stats.silentLinkDrops++;
        this.link.drop(reason);
      },
      noneLeft: () => {
        const failed = this.pending.failWhere(
          (call) => call.state === 'sent',
          () => new NoWorkerError(this.options.queue, 'no-consumers'),
        );
        if (failed > 0) this.logger.warn(`no worker consuming ${this.options.queue}; ${failed} pending calls failed`);
      },
      channelReplaced: () => {
        this.stats.channelsReplaced++;
        this.logger.warn('the broker kept refusing requests on one channel: publishing moved to a fresh channel');
      },
      isBlocked: () => this.link.status.blocked !== undefined,
    };
  }

  private onUp(session: RequestSession, node: string): void {
    this.endHold();
    if (this.everUp) this.stats.reconnects++;
    this.everUp = true;
    const path = this.options.replyMode === 'direct' ? session.replyTo : 'callback queue';
    this.logger.log(
      `connected to ${node}; reply path ${path}; ${session.presence.count} consumer(s) on ${this.options.queue}`,
    );
    // Calls whose link was lost, and calls held during the failover, go out with what is left of their deadline.
    for (const call of this.pending.list()) {
      if (call.state === 'sent') continue;
      if (call.state === 'parked') {
        call.resends++;
        this.stats.resends++;
      }
      if (call.state === 'checking' && session.presence.count === 0) void this.sendOnWorker(session, call);
      else this.publish(session, call);
    }
    session.presence.start(this.lastConsumers);
  }

  private onDown(session: RequestSession, reason: string): void {
    this.lastConsumers = session.presence.count;
    session.dispose();
    if (this.closing !== undefined) {
      this.pending.failWhere(
        () => true,
        () => new ClientClosedError(this.options.queue),
      );
      return;
    }
    let failed = 0;
    let parked = 0;
    const now = Date.now();
    for (const call of this.pending.list()) {
      if (afterLinkLoss(call, now, this.options) === 'park') {
        if (call.state === 'sent') call.state = 'parked';
        parked++;
      } else if (this.pending.fail(call, new ConnectionLostError(this.options.queue, call.id))) {
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
   * failoverHoldMs after a lost link, new calls wait for the next link instead of failing 503 —
   * bounded by their deadline, by the window, and by every node refusing once. Only with several
   * nodes to fail over to (with one, a lost link is an outage), and never before the first link.
   */
  private startHold(): void {
    const holdMs = this.options.failoverHoldMs;
    if (holdMs === 0 || !this.everUp || this.nodeCount < 2) return;
    this.endHold();
    this.holdUntil = Date.now() + holdMs;
    this.holdTimer = setTimeout(() => {
      this.endHold();
      const failed = this.pending.failWhere(
        (call) => call.state === 'held' || call.state === 'checking',
        () => new BrokerUnavailableError(this.options.queue),
      );
      if (failed > 0) this.logger.warn(`no link within the ${holdMs} ms failover hold: ${failed} new call(s) failed`);
    }, holdMs);
  }

  private endHold(): void {
    this.holdUntil = 0;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  /** No link soon: calls waiting for one fail now (503): held ones were never sent, parked ones were lost with their link. */
  private failWaiting(why: string): void {
    this.endHold();
    const { queue } = this.options;
    const failed = this.pending.failWhere(
      (call) => call.state !== 'sent',
      (call) => (call.state === 'parked' ? new ConnectionLostError(queue, call.id) : new BrokerUnavailableError(queue)),
    );
    if (failed > 0) this.logger.warn(`${why}: ${failed} call(s) waiting for a link failed`);
  }

  private onReply(message: ConsumeMessage): void {
    const { correlationId, type } = message.properties as { correlationId?: string; type?: string };
    const call = correlationId === undefined ? undefined : this.pending.get(correlationId);
    if (call === undefined) {
      this.stats.unknownReplies++;
      return;
    }
    if (type === ERROR_REPLY_TYPE) {
      const { code, message: text } = decodeErrorReply(message.content);
      this.pending.fail(call, new RemoteRpcError(this.options.queue, call.id, code, text));
    } else {
      this.pending.succeed(call, message.content.toString('latin1'));
    }
  }

  /** `basic.return` of a mandatory publish: no queue by that name, so no worker. */
  private onReturn(correlationId: string | undefined): void {
    const call = correlationId === undefined ? undefined : this.pending.get(correlationId);
    if (call !== undefined) this.pending.fail(call, new NoWorkerError(this.options.queue, 'unroutable'));
  }
}
