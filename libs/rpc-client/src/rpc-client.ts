import {
  DEADLINE_HEADER,
  decodeErrorReply,
  DIRECT_REPLY_TO,
  ERROR_REPLY_TYPE,
  TEXT_CONTENT_TYPE,
} from '@app/contracts';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { askWithin, BrokerLink, describeError, probeWritePermission, QueueProbe } from '@app/runtime';
import { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
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
  /** Waiting for a link to be sent again on. */
  parked: boolean;
  unlisten?: () => void;
}

/** What one link's set-up made: the channel calls go out on, the reply path, the consumer check's channel. */
interface Session {
  connection: ChannelModel;
  channel: Channel;
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
  readonly stats: RpcClientStats = { unknownReplies: 0, reconnects: 0, silentLinkDrops: 0, resends: 0, cancelled: 0 };

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

  constructor(options: RpcClientOptions = {}) {
    this.options = { ...RPC_CLIENT_DEFAULTS, ...withoutUndefined(options) };
    const { queue } = this.options;
    checkInteger(queue, 'timeoutMs', this.options.timeoutMs, 1, MAX_TIMEOUT_MS);
    checkInteger(queue, 'maxInFlight', this.options.maxInFlight, 1, 10_000_000);
    checkInteger(queue, 'consumerCheckIntervalMs', this.options.consumerCheckIntervalMs, 1, MAX_TIMEOUT_MS);
    checkInteger(queue, 'consumerCheckTimeoutMs', this.options.consumerCheckTimeoutMs, 1, MAX_TIMEOUT_MS);
    checkInteger(queue, 'maxResends', this.options.maxResends, 0, 100);
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
      explain: (error) => explainRefusal(error),
      onAttemptFailed: (consecutive) => {
        // Every node refused once: no link is coming soon, so calls kept to be sent again fail now (503).
        if (consecutive >= this.nodeCount) this.failParked();
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
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const failure = this.refusal(timeoutMs, options.signal);
    if (failure) return { correlationId: undefined, reply: Promise.reject(failure) };
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
        parked: false,
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
      this.publish(session, correlationId, call);
    });
    return { correlationId, reply };
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
    await this.link.close();
  }

  private refusal(timeoutMs: number, signal: AbortSignal | undefined): RpcClientError | undefined {
    const { queue } = this.options;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      return new InvalidOptionsError(queue, 'timeoutMs', timeoutMs, `an integer from 1 to ${MAX_TIMEOUT_MS}`);
    }
    if (this.closing) return new ClientClosedError(queue);
    if (signal?.aborted) {
      this.stats.cancelled++;
      return new CallCancelledError(queue, undefined);
    }
    if (this.link.status.state !== 'ready') return new BrokerUnavailableError(queue);
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
    // A first send carries the whole timeout; a re-send what is left of it.
    const remainingMs = call.resends === 0 ? call.timeoutMs : Math.max(1, call.deadline - Date.now());
    try {
      const written = session.channel.publish('', this.options.queue, call.body, {
        correlationId,
        replyTo: session.replyTo,
        expiration: remainingMs,
        contentType: TEXT_CONTENT_TYPE,
        mandatory: true,
        messageId: call.options.messageId,
        headers: { ...call.options.headers, [DEADLINE_HEADER]: call.deadline },
      });
      // Sent, but buffered past the high-water mark: refuse further calls until 'drain'.
      if (!written) this.notDraining = true;
    } catch (error) {
      // The channel closed under us; its close handler drops the link and deals with the other calls.
      this.logger.warn(`request not published: ${describeError(error)}`);
      this.settle(correlationId)?.reject(new ConnectionLostError(this.options.queue, correlationId));
    }
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
      call.parked
        ? new ConnectionLostError(this.options.queue, correlationId)
        : new RpcTimeoutError(this.options.queue, correlationId, timeoutMs),
    );
  }

  private async setUp(connection: ChannelModel): Promise<Session> {
    const channel = await connection.createChannel();
    const session: Session = {
      connection,
      channel,
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
    channel.on('drain', () => {
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
    if (this.closing) {
      this.failAll(() => new ClientClosedError(this.options.queue));
      return;
    }
    let failed = 0;
    let parked = 0;
    for (const [id, call] of [...this.pending]) {
      if (this.options.resendOnLinkLoss && call.resends < this.options.maxResends && call.deadline > Date.now()) {
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
  }

  /** Calls whose link was lost go out again on the new one, with what is left of their deadline. */
  private resendParked(session: Session): void {
    for (const [id, call] of this.pending) {
      if (!call.parked) continue;
      call.parked = false;
      call.resends++;
      this.stats.resends++;
      this.publish(session, id, call);
    }
  }

  private failParked(): void {
    let failed = 0;
    for (const [id, call] of [...this.pending]) {
      if (!call.parked) continue;
      this.settle(id)?.reject(new ConnectionLostError(this.options.queue, id));
      failed++;
    }
    if (failed > 0) this.logger.warn(`no broker node reachable: ${failed} call(s) kept to be sent again failed`);
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
function explainRefusal(error: unknown): string | undefined {
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
  const needed = "configure '^amq\\.gen-.*$' write '^amq\\.default$' read '^amq\\.gen-.*$'";
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
