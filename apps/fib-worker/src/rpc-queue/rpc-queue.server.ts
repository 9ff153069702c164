import {
  DEADLINE_HEADER,
  encodeErrorReply,
  ERROR_CONTENT_TYPE,
  ERROR_REPLY_TYPE,
  isRpcErrorCode,
  RpcErrorBody,
  RpcErrorCode,
  TEXT_CONTENT_TYPE,
} from '@app/contracts';
import { REQUEST_ID_HEADER, RpcServerSpan, TRACEPARENT_HEADER, withRpcServerSpan } from '@app/observability';
import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { askWithin, BrokerLink, describeError, probeWritePermission, QueueProbe } from '@app/runtime';
import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { PinoLogger } from 'nestjs-pino';
import { isObservable, lastValueFrom } from 'rxjs';
import { AckBatcher } from './ack-batcher';
import { adoptQueue, explainQueueRefusal } from './queue-adoption';
import { RpcQueueContext } from './rpc-queue.context';
import { RpcQueueServerOptions, RpcQueueServerStats } from './rpc-queue.interfaces';

/** What one link's set-up made: the consuming channel, its consumer and its ack batcher. */
interface Session {
  connection: ChannelModel;
  channel: Channel;
  consumerTag: string;
  acks: AckBatcher;
  /** The liveness check's question to the broker. */
  probe: QueueProbe;
  livenessTimer?: NodeJS.Timeout;
}

/** How often the worker asks the broker a question, and how long it waits for the answer before it drops a silent link. */
const LIVENESS_INTERVAL_MS = 1000;
const LIVENESS_TIMEOUT_MS = 3000;

/** How long close() waits for the broker to confirm the consumer's cancel on a link that may be silent. */
const CANCEL_WAIT_MS = 2000;

/**
 * Nest transport that serves the tutorial's wire protocol on one queue:
 * plain-text request bodies, plain-text replies to `reply_to` with the
 * `correlation_id` echoed, JSON error replies marked `type: "error"`.
 * A request is acked only after its reply is published, so a worker that dies
 * mid-request leaves it to be redelivered. Every delivery is acked exactly
 * once, whatever happens to its reply: bad input gets an error reply, a reply
 * that cannot be published is logged, and neither is ever requeued.
 *
 * The broker link (node list, bounded attempts, reconnects, close) is a
 * BrokerLink; this class supplies its set-up: adopt or declare the queue,
 * then consume it.
 */
export class RpcQueueServer extends Server implements CustomTransportStrategy {
  readonly stats: RpcQueueServerStats = {
    answered: 0,
    failed: {},
    dropped: 0,
    expired: 0,
    unpublishable: 0,
    silentLinkDrops: 0,
  };
  protected override readonly logger = new Logger(RpcQueueServer.name);

  private readonly link: BrokerLink<Session>;
  private handler: MessageHandler | undefined;
  private inHand = 0;
  private closing = false;
  private onIdle: (() => void) | undefined;

  constructor(private readonly options: RpcQueueServerOptions) {
    super();
    const { queue, queueType = 'quorum' } = options;
    this.link = new BrokerLink<Session>({
      urls: options.urls,
      connectionName: options.connectionName ?? 'fib-rpc worker',
      heartbeatS: options.heartbeatS ?? 5,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      reconnectDelayMs: options.reconnectDelayMs,
      tls: options.tls,
      auth: options.auth,
      logger: this.logger,
      setup: (connection) => this.setUp(connection),
      onUp: (session, node) => {
        this.scheduleLivenessCheck(session);
        this.logger.log(
          `consuming ${queue} on ${node} (prefetch ${options.prefetch}, declares ${queueType} if absent)`,
        );
      },
      onDown: (session, reason) => {
        clearTimeout(session.livenessTimer);
        if (reason !== 'closing') this.logger.warn(`consumer gone (${reason}); unacked requests go back to the queue`);
      },
      explain: (error) => explainQueueRefusal(error, queue, queueType),
    });
  }

  /** Requests delivered and not yet answered. */
  get inHandCount(): number {
    return this.inHand;
  }

  /** True while this worker is consuming the queue. */
  get isConsuming(): boolean {
    return this.link.status.state === 'ready';
  }

  /** The broker link's state, node and problem, for health details. */
  get linkStatus(): BrokerLink<Session>['status'] {
    return this.link.status;
  }

  listen(callback: (error?: unknown) => void): void {
    const handler = this.getHandlerByPattern(this.options.pattern);
    if (handler === null) {
      callback(new Error(`no @MessagePattern('${this.options.pattern}') handler registered`));
      return;
    }
    this.handler = handler;
    // The first attempt's outcome does not stop start-up: an unreachable broker is retried in the background.
    void this.link.start().then(() => callback());
  }

  /** Cancels the consumer, finishes, replies to and acks the requests in hand, then closes. */
  async close(): Promise<void> {
    this.closing = true;
    const session = this.link.session;
    if (session !== undefined) {
      await withinMs(session.channel.cancel(session.consumerTag), CANCEL_WAIT_MS);
      if (this.inHand > 0 && this.link.session === session) {
        await new Promise<void>((resolve) => (this.onIdle = resolve));
      }
    }
    await this.link.close();
  }

  on(): never {
    throw new Error('RpcQueueServer emits no events');
  }

  unwrap<T>(): T {
    return this.link.connection as T;
  }

  private async setUp(connection: ChannelModel): Promise<Session> {
    const { queue, queueType = 'quorum', prefetch } = this.options;
    // A link lost while close() drains must not come back consuming.
    if (this.closing) throw new Error('worker is closing');
    const adopted = await adoptQueue(connection, queue, queueType);
    if (adopted.declared) this.logger.log(`declared ${queue} as a ${queueType} queue`);
    const channel = await connection.createChannel();
    const acks = new AckBatcher(channel, Math.max(1, Math.floor(prefetch / 2)));
    const session: Session = { connection, channel, consumerTag: '', acks, probe: new QueueProbe(connection, queue) };
    // Set-up failures are logged once by the broker link; only a live session's channel errors are news.
    channel.on('error', (error: unknown) => {
      if (this.link.session === session) this.logger.warn(`channel error: ${describeError(error)}`);
    });
    // Replies go through the default exchange: a user without write there is refused here, not at every request.
    probeWritePermission(channel);
    await channel.prefetch(prefetch);
    // A channel closing alone would leave a worker that consumes nothing; drop the whole link instead.
    channel.on('close', () => {
      // A connection closing closes its channels first: let its own close (and its reason) come first.
      setImmediate(() => {
        if (this.link.session === session) this.link.drop('its channel closed');
      });
    });
    session.consumerTag = (await channel.consume(queue, (message) => this.onMessage(message, session))).consumerTag;
    return session;
  }

  private scheduleLivenessCheck(session: Session): void {
    session.livenessTimer = setTimeout(() => void this.checkLiveness(session), LIVENESS_INTERVAL_MS);
  }

  /**
   * The worker's own periodic round trip, like the gateway's consumer check:
   * the heartbeat alone takes two missed intervals (~10–15 s) to notice a
   * silent link or a frozen node; a question left unanswered for
   * LIVENESS_TIMEOUT_MS drops the link sooner, and the worker re-consumes on
   * the next node.
   */
  private async checkLiveness(session: Session): Promise<void> {
    if (this.link.session !== session) return;
    // Any answer will do, a 404 included (a deleted queue reaches us as a consumer cancel anyway).
    const asking = session.probe.consumerCount().then(
      () => 'answered',
      () => 'answered',
    );
    const answer = await askWithin(asking, LIVENESS_TIMEOUT_MS, () => this.link.status.blocked !== undefined);
    if (this.link.session !== session) return;
    if (answer === 'silent') {
      this.stats.silentLinkDrops++;
      this.link.drop(`no answer from the broker within ${LIVENESS_TIMEOUT_MS} ms`);
      return;
    }
    this.scheduleLivenessCheck(session);
  }

  private onMessage(message: ConsumeMessage | null, session: Session): void {
    if (message === null) {
      // The broker cancelled us (queue deleted, or its node lost): start over, which adopts or declares it again.
      if (this.link.session === session) this.link.drop(`consumer of ${this.options.queue} cancelled by the broker`);
      return;
    }
    this.inHand++;
    session.acks.received(message);
    void withRpcServerSpan(this.options.queue, message, (span) => this.answer(message, session, span)).finally(() => {
      this.inHand--;
      if (this.inHand === 0 && this.onIdle !== undefined) this.onIdle();
    });
  }

  private async answer(message: ConsumeMessage, session: Session, span: RpcServerSpan): Promise<void> {
    const { channel, acks } = session;
    const startedAt = performance.now();
    const { replyTo, correlationId, headers } = message.properties as {
      replyTo?: string;
      correlationId?: string;
      headers?: Record<string, unknown>;
    };
    if (!replyTo) {
      this.stats.dropped++;
      this.logger.warn(`request without reply_to dropped (correlation id ${printable(correlationId)})`);
      span.end('dropped');
      acks.done(message);
      return;
    }
    if (isPast(headers?.[DEADLINE_HEADER])) {
      // Its caller has given up: computing it would be work for nobody.
      this.stats.expired++;
      span.end('expired');
      acks.done(message);
      return;
    }
    let body: Buffer;
    let failure: RpcErrorBody | undefined;
    try {
      const handler = this.handler as MessageHandler;
      const result: unknown = await handler(message.content, new RpcQueueContext([message, channel]));
      const value: unknown = isObservable(result) ? await lastValueFrom(result) : result;
      body = Buffer.from(String(value), 'latin1');
    } catch (error) {
      failure = toErrorBody(error);
      body = encodeErrorReply(failure.code, failure.message);
    }
    try {
      if (failure === undefined) {
        channel.publish('', replyTo, body, { correlationId, contentType: TEXT_CONTENT_TYPE });
        this.stats.answered++;
      } else {
        channel.publish('', replyTo, body, { correlationId, contentType: ERROR_CONTENT_TYPE, type: ERROR_REPLY_TYPE });
        this.stats.failed[failure.code] = (this.stats.failed[failure.code] ?? 0) + 1;
      }
    } catch (error) {
      // A property that cannot be echoed (raw bytes decoded as UTF-8 grow past 255 bytes), or a
      // closed channel. Either way this delivery is done: acked below, so it never blocks the ones behind it.
      this.stats.unpublishable++;
      this.logger.warn(
        `reply to ${printable(replyTo)} (correlation id ${printable(correlationId)}) not published: ${describeError(error)}`,
      );
    }
    span.end(failure?.code ?? 'ok');
    acks.done(message);
    try {
      this.logAnswer(message, failure?.code ?? 'ok', startedAt);
    } catch {
      // A log line must never take the worker down; the reply and ack are already out.
    }
  }

  /** One line per request: correlation id, the caller's request id (message_id) and traceparent, n, outcome, duration. */
  private logAnswer(message: ConsumeMessage, outcome: string, startedAt: number): void {
    // Straight to pino: Nest's Logger adds two layers and an AsyncLocalStorage lookup per line.
    // Undefined when the app has no nestjs-pino LoggerModule: then there is no request line.
    const log = PinoLogger.root as PinoLogger['logger'] | undefined;
    if (log === undefined || !log.isLevelEnabled('info')) return;
    const { correlationId, messageId, headers } = message.properties as {
      correlationId?: string;
      messageId?: string;
      headers?: Record<string, unknown>;
    };
    log.info(
      {
        context: RpcQueueServer.name,
        correlationId,
        // Our gateway sends the request id as message_id; other callers may use an x-request-id header.
        requestId: messageId ?? headers?.[REQUEST_ID_HEADER],
        traceparent: headers?.[TRACEPARENT_HEADER],
        n: message.content.toString('latin1', 0, 24),
        outcome,
        redelivered: message.fields.redelivered || undefined,
        durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
      },
      'rpc answered',
    );
  }
}

/** A deadline header (epoch ms) already in the past; anything else — absent, junk — is no deadline. */
function isPast(deadline: unknown): boolean {
  const at = typeof deadline === 'number' ? deadline : typeof deadline === 'bigint' ? Number(deadline) : Number.NaN;
  return Number.isFinite(at) && at < Date.now();
}

/** A property for a log line: short, and without the replacement characters of undecodable bytes. */
function printable(value: string | undefined): string {
  if (value === undefined) return 'none';
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return JSON.stringify(shown);
}

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** What Nest's RPC exception layer hands back: `RpcException.getError()` or `{status, message}`. */
function toErrorBody(error: unknown): RpcErrorBody {
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as Record<string, unknown>;
    if (isRpcErrorCode(code) && typeof message === 'string') return { code, message };
  }
  return { code: RpcErrorCode.INTERNAL, message: 'internal error computing the reply' };
}
