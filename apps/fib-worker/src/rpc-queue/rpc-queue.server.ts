import { withRpcServerSpan } from '@app/observability';
import { BrokerLink, connectAmqp, describeEndpoint, describeError } from '@app/runtime';
import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { ChannelModel, ConsumeMessage } from 'amqplib';
import { explainQueueRefusal } from './queue-adoption';
import { RateLimitedWarning } from './rate-limited-warning';
import { RequestAnswerer } from './request-answerer';
import { RpcQueueServerOptions, RpcQueueServerStats } from './rpc-queue.interfaces';
import { UnreachableReplyAddresses } from './unreachable-reply-addresses';
import { WorkerSession } from './worker-session';

/** At most one line per this interval about the broker closing the reply connection. */
const REFUSED_CLOSE_LOG_INTERVAL_MS = 10_000;

/**
 * Nest transport that serves the tutorial's wire protocol on one queue:
 * plain-text request bodies, plain-text replies to `reply_to` with the
 * `correlation_id` echoed, JSON error replies marked `type: "error"`.
 * A request is acked only after its reply is confirmed by the broker (or
 * definitively refused), so a worker that dies mid-request leaves it to be
 * redelivered; every delivery is acked at most once, and never requeued by us.
 *
 * The broker link (node list, bounded attempts, reconnects, close) is a
 * BrokerLink; each link's state is a WorkerSession made by its set-up. This
 * class is the Nest side and the wiring.
 */
export class RpcQueueServer extends Server implements CustomTransportStrategy {
  readonly stats: RpcQueueServerStats = {
    answered: 0,
    failed: {},
    dropped: 0,
    expired: 0,
    clockSkewed: 0,
    unpublishable: 0,
    undeliverable: 0,
    replyConnectionRefusals: 0,
    silentLinkDrops: 0,
    linkLosses: 0,
  };
  protected override readonly logger = new Logger(RpcQueueServer.name);

  private readonly link: BrokerLink<WorkerSession>;
  private readonly unreachable = new UnreachableReplyAddresses();
  private readonly refusedCloses = new RateLimitedWarning(
    (line) => this.logger.warn(line),
    REFUSED_CLOSE_LOG_INTERVAL_MS,
  );
  private answerer: RequestAnswerer | undefined;
  private inHand = 0;
  private closing = false;
  private onIdle: (() => void) | undefined;

  constructor(private readonly options: RpcQueueServerOptions) {
    super();
    const { queue, queueType = 'quorum' } = options;
    this.link = new BrokerLink<WorkerSession>({
      urls: options.urls,
      connectionName: options.connectionName ?? 'fib-rpc worker',
      heartbeatS: options.heartbeatS ?? 5,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      reconnectDelayMs: options.reconnectDelayMs,
      tls: options.tls,
      auth: options.auth,
      logger: this.logger,
      setup: (connection, node) => this.setUp(connection, node),
      onUp: (session, node) => {
        session.watch();
        this.logger.log(
          `consuming ${queue} on ${node} (prefetch ${options.prefetch}, declares ${queueType} if absent)`,
        );
      },
      onDown: (session, reason) => {
        session.dispose();
        if (reason === 'closing') return;
        this.stats.linkLosses++;
        this.logger.warn(`consumer gone (${reason}); unacked requests go back to the queue`);
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
  get linkStatus(): BrokerLink<WorkerSession>['status'] {
    return this.link.status;
  }

  listen(callback: (error?: unknown) => void): void {
    const handler = this.getHandlerByPattern(this.options.pattern);
    if (handler === null) {
      callback(new Error(`no @MessagePattern('${this.options.pattern}') handler registered`));
      return;
    }
    this.answerer = new RequestAnswerer(handler, this.stats, this.logger);
    // The first attempt's outcome does not stop start-up: an unreachable broker is retried in the background.
    void this.link.start().then(() => callback());
  }

  /** Cancels the consumer, finishes, replies to and acks the requests in hand, then closes. */
  async close(): Promise<void> {
    this.closing = true;
    const session = this.link.session;
    if (session !== undefined) {
      await session.cancel();
      if (this.inHand > 0 && this.link.session === session) {
        await new Promise<void>((resolve) => (this.onIdle = resolve));
      }
      if (this.link.session === session) await session.closeReplies();
    }
    await this.link.close();
  }

  on(): never {
    throw new Error('RpcQueueServer emits no events');
  }

  unwrap<T>(): T {
    return this.link.connection as T;
  }

  private setUp(connection: ChannelModel, node: string): Promise<WorkerSession> {
    const { queue, queueType = 'quorum', prefetch } = this.options;
    // A link lost while close() drains must not come back consuming.
    if (this.closing) return Promise.reject(new Error('worker is closing'));
    const isLive = (session: WorkerSession): boolean => this.link.session === session;
    return WorkerSession.open(connection, {
      queue,
      queueType,
      prefetch,
      connectReplies: () => this.connectReplies(node),
      unreachable: this.unreachable,
      onMessage: (message, session) => this.onMessage(message, session),
      onBroken: (session, reason, silent) => {
        if (!isLive(session)) return;
        if (silent) this.stats.silentLinkDrops++;
        this.link.drop(reason);
      },
      onRefusedClose: (error, inFlight) => {
        this.stats.replyConnectionRefusals++;
        this.refusedCloses.say(
          `the broker closed the reply connection (${describeError(error)}): a reply address it cannot resolve; ` +
            `${inFlight} replies in flight are re-sent, one per address first, and the unreachable address is skipped`,
        );
      },
      // Set-up failures are logged once by the broker link; only a live session's channel errors are news.
      onChannelError: (session, error) => {
        if (isLive(session)) this.logger.warn(`channel error: ${describeError(error)}`);
      },
      onDeclared: () => this.logger.log(`declared ${queue} as a ${queueType} queue`),
    });
  }

  /** The reply connection goes to the node the consuming link is on, with the same settings. */
  private connectReplies(node: string): Promise<ChannelModel> {
    const { urls, connectionName = 'fib-rpc worker' } = this.options;
    const url = urls.find((candidate) => describeEndpoint(candidate) === node) ?? urls[0];
    return connectAmqp(url, {
      connectionName: `${connectionName} (replies)`,
      heartbeatS: this.options.heartbeatS ?? 5,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 3000,
      tls: this.options.tls,
      auth: this.options.auth,
    });
  }

  private onMessage(message: ConsumeMessage, session: WorkerSession): void {
    this.inHand++;
    session.acks.received(message);
    const answerer = this.answerer as RequestAnswerer;
    // Each delivery is handled inside its SERVER span (a shared no-op without a tracing SDK).
    void withRpcServerSpan(this.options.queue, message, (span) => answerer.answer(message, session, span)).finally(
      () => {
        this.inHand--;
        if (this.inHand === 0 && this.onIdle !== undefined) this.onIdle();
      },
    );
  }
}
