import { RpcClientSpan, startRpcClientSpan } from '@app/observability/tracing';
import { BrokerLink } from '@app/runtime';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { deadlineError, refusalError, settleReply } from './call-outcomes';
import { CallCancelledError, ConnectionLostError, NoWorkerError, RejectedError, RpcClientError } from './errors';
import { admit, AdmissionFacts } from './failover.policy';
import { LinkRecovery } from './link-recovery';
import { PendingCall, PendingCalls } from './pending-calls';
import { RequestSession, RequestSessionEvents } from './request-session';
import { RpcCall, RpcCallOptions, RpcClientHealth, RpcClientOptions, RpcClientStats } from './rpc-client.interfaces';
import {
  callTimeoutError,
  connectSettings,
  explainRefusal,
  ResolvedRpcClientOptions,
  resolveOptions,
} from './rpc-client.options';

/**
 * Request/reply over RabbitMQ, the tutorial's way, with answers to its open questions: every call
 * ends in a value or a typed error (deadline, no worker, connection lost, refused, overload, flow
 * control, cancelled, remote error, closed), never waits forever, and is never buffered to be sent late.
 *
 * The broker link (node list, bounded attempts, reconnects, close) is a BrokerLink; each link's
 * state lives in its RequestSession; the calls in PendingCalls; the decisions in failover.policy;
 * what a lost link does to the calls, and the failover hold, in LinkRecovery.
 * This class admits calls, wires them together, and follows Nest's lifecycle.
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

  private readonly options: ResolvedRpcClientOptions;
  private readonly logger = new Logger(RpcClient.name);
  private readonly pending: PendingCalls;
  private readonly idPrefix = `${randomBytes(6).toString('base64url')}.`;
  private readonly link: BrokerLink<RequestSession>;
  private readonly recovery: LinkRecovery;
  private nextId = 0;
  private closing: Promise<void> | undefined;
  private readonly facts: AdmissionFacts;

  constructor(options: RpcClientOptions = {}) {
    this.options = resolveOptions(options);
    const { queue } = this.options;
    this.facts = {
      closing: false,
      linkReady: false,
      holding: false,
      flowHeld: undefined,
      consumers: 0,
      pending: 0,
      maxInFlight: this.options.maxInFlight,
    };
    const nodeCount = this.options.urls?.length ?? 1;
    this.pending = new PendingCalls(
      (call) => deadlineError(call, queue),
      (call) => {
        this.stats.cancelled++;
        return new CallCancelledError(queue, call.id);
      },
    );
    this.recovery = new LinkRecovery(this.pending, { ...this.options, nodeCount }, this.stats, this.logger, {
      publish: (session, call) => this.publish(session, call),
      sendOnWorker: (session, call) => this.sendOnWorker(session, call),
    });
    this.link = new BrokerLink<RequestSession>({
      ...connectSettings(this.options),
      logger: this.logger,
      setup: (connection) => RequestSession.open(connection, this.options, this.sessionEvents()),
      onUp: (session, node) => this.recovery.up(session, node),
      onDown: (session, reason) => this.recovery.down(session, reason, this.closing !== undefined),
      explain: (error) => explainRefusal(error, this.options.replyMode),
      onFlow: () => this.link.session?.flowChanged(),
      onAttemptFailed: (consecutive) => {
        // Every node refused once: no link is coming soon, so calls kept for one fail now (503).
        if (consecutive >= nodeCount) this.recovery.noLinkSoon('no broker node reachable');
      },
    });
  }

  /** True while connected with a reply path and not closing: calls can be sent. */
  get isConnected(): boolean {
    return this.closing === undefined && this.link.status.state === 'ready';
  }

  /** Consumers of the request queue at the last check (0 when it is absent). */
  get consumerCount(): number {
    return this.link.session?.presence.count ?? this.recovery.lastConsumers;
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
    // A shared no-op without a tracing SDK; with one, the CLIENT span of the call, ended by its outcome.
    const span = startRpcClientSpan(this.options.queue, body, options.traceContext);
    const sent = this.admitAndSend(body, options, span);
    sent.reply = span.endWith(sent.reply);
    return sent;
  }

  private admitAndSend(body: Buffer, options: RpcCallOptions, span: RpcClientSpan): RpcCall {
    const { queue } = this.options;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const invalid = callTimeoutError(queue, timeoutMs);
    if (invalid !== undefined) return this.refused(invalid);
    if (options.signal?.aborted && this.closing === undefined) {
      this.stats.cancelled++;
      return this.refused(new CallCancelledError(queue, undefined));
    }
    const session = this.link.session;
    // One facts object per client, refilled per call: admission allocates nothing (issue 17).
    const facts = this.facts;
    facts.closing = this.closing !== undefined;
    facts.linkReady = session !== undefined;
    facts.holding = this.recovery.holding;
    facts.flowHeld = this.flowControl();
    facts.consumers = session?.presence.count ?? 0;
    facts.pending = this.pending.size;
    const admission = admit(facts);
    const refusal = refusalError(admission, queue, facts);
    if (refusal !== undefined) return this.refused(refusal);
    const correlationId = this.idPrefix + (this.nextId++).toString(36);
    const state = admission === 'send' ? 'sent' : admission === 'hold' ? 'held' : 'checking';
    const reply = this.pending.add(correlationId, body, options, timeoutMs, state);
    const call = this.pending.get(correlationId) as PendingCall;
    call.span = span;
    if (admission === 'hold') span.event('held');
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
    this.recovery.close();
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
    // A call whose link went meanwhile is the failover policy's (see LinkRecovery.down).
    if (call.done || this.link.session !== session || call.state !== 'checking') return;
    if (count === 'silent') return;
    if (count > 0) this.publish(session, call);
    else this.pending.fail(call, new NoWorkerError(this.options.queue, 'no-consumers'));
  }

  /** What a link's session reports; a session acts on the link only while it is the live one. */
  private sessionEvents(): RequestSessionEvents {
    return {
      reply: (message) => {
        if (!settleReply(this.pending, message, this.options.queue)) this.stats.unknownReplies++;
      },
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
      channelReplaced: (n) => {
        this.stats.channelsReplaced++;
        if (n === 1)
          this.logger.warn('the broker nacked requests on a channel that never confirmed one: trying fresh channels');
      },
      isBlocked: () => this.link.status.blocked !== undefined,
    };
  }

  /** `basic.return` of a mandatory publish: no queue by that name, so no worker. */
  private onReturn(correlationId: string | undefined): void {
    const call = correlationId === undefined ? undefined : this.pending.get(correlationId);
    if (call !== undefined) this.pending.fail(call, new NoWorkerError(this.options.queue, 'unroutable'));
  }
}
