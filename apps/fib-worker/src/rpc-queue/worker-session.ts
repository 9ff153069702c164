import { RpcQueueType } from '@app/contracts';
import { askWithin, QueueProbe } from '@app/runtime';
import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { AckBatcher } from './ack-batcher';
import { adoptQueue } from './queue-adoption';
import { ReplyPublisher } from './reply-publisher';
import { UnreachableReplyAddresses } from './unreachable-reply-addresses';

/** How often the worker asks the broker a question, and how long it waits for the answer before it drops a silent link. */
const LIVENESS_INTERVAL_MS = 1000;
const LIVENESS_TIMEOUT_MS = 3000;

/** How long a cancel waits for the broker's answer on a link that may be silent. */
const CANCEL_WAIT_MS = 2000;

export interface WorkerSessionOptions {
  queue: string;
  queueType: RpcQueueType;
  prefetch: number;
  /** Opens the reply connection: a second connection, to the same node. */
  connectReplies(): Promise<ChannelModel>;
  unreachable: UnreachableReplyAddresses;
  onMessage(message: ConsumeMessage, session: WorkerSession): void;
  /** The link this session lives on is broken (`silent`: the broker stopped answering); the owner drops it. */
  onBroken(session: WorkerSession, reason: string, silent?: boolean): void;
  /** The broker closed the reply connection over a reply it would not take (541). */
  onRefusedClose(error: unknown, inFlight: number): void;
  /** A channel error of the live session (set-up failures are the broker link's to report). */
  onChannelError(session: WorkerSession, error: unknown): void;
  /** The queue did not exist and was declared. */
  onDeclared(): void;
}

/**
 * Everything that belongs to one broker link of the worker, made by the
 * link's set-up and gone with it: the consuming channel and its consumer, the
 * ack batcher of its delivery tags, the liveness check, and the reply
 * publisher with its own connection. Nothing of a dead link outlives it: its
 * consuming connection closing disposes it, whoever closed it.
 */
export class WorkerSession {
  readonly acks: AckBatcher;
  readonly replies: ReplyPublisher;
  private consumerTag = '';
  private readonly probe: QueueProbe;
  private livenessTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  private constructor(
    readonly connection: ChannelModel,
    readonly channel: Channel,
    private readonly options: WorkerSessionOptions,
  ) {
    this.acks = new AckBatcher(channel, Math.max(1, Math.floor(options.prefetch / 2)));
    this.probe = new QueueProbe(connection, options.queue);
    this.replies = new ReplyPublisher({
      connect: () => options.connectReplies(),
      unreachable: options.unreachable,
      onRefusedClose: (error, inFlight) => options.onRefusedClose(error, inFlight),
      onBroken: (reason) => options.onBroken(this, reason),
    });
    connection.once('close', () => this.dispose());
  }

  /**
   * The set-up of one link: adopt (or declare) the queue, consume it, then
   * open the reply connection — after the consumer, so the consuming
   * connection is always the link's first. Deliveries before the reply
   * connection is up wait for it.
   */
  static async open(connection: ChannelModel, options: WorkerSessionOptions): Promise<WorkerSession> {
    const { queue, queueType, prefetch } = options;
    const adopted = await adoptQueue(connection, queue, queueType);
    if (adopted.declared) options.onDeclared();
    const session = new WorkerSession(connection, await connection.createChannel(), options);
    try {
      const { channel } = session;
      channel.on('error', (error: unknown) => options.onChannelError(session, error));
      await channel.prefetch(prefetch);
      // A channel closing alone would leave a worker that consumes nothing; drop the whole link instead.
      // A connection closing closes its channels first: let its own close (and its reason) come first.
      channel.on('close', () => setImmediate(() => options.onBroken(session, 'its channel closed')));
      const consumer = await channel.consume(queue, (message) => {
        // null: the broker cancelled us (queue deleted, or its node lost); starting over adopts or declares it again.
        if (message === null) options.onBroken(session, `consumer of ${queue} cancelled by the broker`);
        else options.onMessage(message, session);
      });
      session.consumerTag = consumer.consumerTag;
      await session.replies.open();
    } catch (error) {
      session.dispose();
      throw error;
    }
    return session;
  }

  /**
   * The worker's own periodic round trip: the heartbeat alone takes two missed
   * intervals (~10–15 s) to notice a silent link or a frozen node; a question
   * left unanswered for LIVENESS_TIMEOUT_MS drops the link sooner. A reply
   * waiting that long for its confirm, unless the broker blocks publishing,
   * means the same of the reply connection.
   */
  watch(): void {
    if (this.disposed) return;
    this.livenessTimer = setTimeout(() => void this.checkLiveness(), LIVENESS_INTERVAL_MS);
  }

  /** Stops deliveries (bounded: the link may be silent). */
  async cancel(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.channel.cancel(this.consumerTag).catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** Closes the reply connection politely: for a worker closing, once its replies are confirmed. */
  async closeReplies(): Promise<void> {
    await this.replies.close();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.livenessTimer);
    this.replies.dispose();
  }

  private async checkLiveness(): Promise<void> {
    // Any answer will do, a 404 included (a deleted queue reaches us as a consumer cancel anyway).
    const asking = this.probe.consumerCount().then(
      () => 'answered',
      () => 'answered',
    );
    // The consuming connection publishes nothing, so the broker never blocks it: no answer means silence.
    const answer = await askWithin(asking, LIVENESS_TIMEOUT_MS, () => false);
    if (this.disposed) return;
    if (answer === 'silent') {
      this.options.onBroken(this, `no answer from the broker within ${LIVENESS_TIMEOUT_MS} ms`, true);
      return;
    }
    if (this.replies.blocked === undefined && this.replies.unconfirmedForMs(Date.now()) > LIVENESS_TIMEOUT_MS) {
      this.options.onBroken(this, `no confirm of a reply within ${LIVENESS_TIMEOUT_MS} ms`, true);
      return;
    }
    this.watch();
  }
}
