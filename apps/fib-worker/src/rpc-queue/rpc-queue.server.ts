import {
  encodeErrorReply,
  ERROR_CONTENT_TYPE,
  ERROR_REPLY_TYPE,
  isRpcErrorCode,
  RPC_QUEUE_OPTIONS,
  RpcErrorBody,
  RpcErrorCode,
  TEXT_CONTENT_TYPE,
} from '@app/contracts';
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER } from '@app/observability';
import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { backoffDelayMs, connectAmqp, describeError, redactUrl } from '@app/runtime';
import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { PinoLogger } from 'nestjs-pino';
import { isObservable, lastValueFrom } from 'rxjs';
import { AckBatcher } from './ack-batcher';
import { RpcQueueContext } from './rpc-queue.context';
import { RpcQueueServerOptions, RpcQueueServerStats } from './rpc-queue.interfaces';

interface Link {
  connection: ChannelModel;
  channel: Channel;
  consumerTag: string;
}

/**
 * Nest transport that serves the tutorial's wire protocol on one queue:
 * plain-text request bodies, plain-text replies to `reply_to` with the
 * `correlation_id` echoed, JSON error replies marked `type: "error"`.
 * A request is acked only after its reply is published, so a worker that dies
 * mid-request leaves it to be redelivered. Bad input gets an error reply and
 * is acked, never requeued.
 */
export class RpcQueueServer extends Server implements CustomTransportStrategy {
  readonly stats: RpcQueueServerStats = { answered: 0, failed: {}, dropped: 0 };
  protected override readonly logger = new Logger(RpcQueueServer.name);

  private link: Link | undefined;
  private handler: MessageHandler | undefined;
  private inHand = 0;
  private closing = false;
  private onIdle: (() => void) | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;

  constructor(private readonly options: RpcQueueServerOptions) {
    super();
  }

  /** Requests delivered and not yet answered. */
  get inHandCount(): number {
    return this.inHand;
  }

  /** True while this worker is consuming the queue. */
  get isConsuming(): boolean {
    return this.link !== undefined;
  }

  listen(callback: (error?: unknown) => void): void {
    const handler = this.getHandlerByPattern(this.options.pattern);
    if (handler === null) {
      callback(new Error(`no @MessagePattern('${this.options.pattern}') handler registered`));
      return;
    }
    this.handler = handler;
    // The first attempt's outcome does not stop start-up: an unreachable broker is retried in the background.
    void this.attemptConnect().then(() => callback());
  }

  /** Cancels the consumer, finishes, replies to and acks the requests in hand, then closes. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    const link = this.link;
    if (link === undefined) return;
    await link.channel.cancel(link.consumerTag).catch(() => undefined);
    if (this.inHand > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    this.link = undefined;
    await link.connection.close().catch(() => undefined);
  }

  on(): never {
    throw new Error('RpcQueueServer emits no events');
  }

  unwrap<T>(): T {
    return this.link?.connection as T;
  }

  private async attemptConnect(): Promise<void> {
    const { url, queue, prefetch, connectionName = 'fib-rpc worker' } = this.options;
    let connection: ChannelModel | undefined;
    try {
      connection = await connectAmqp(url, connectionName);
      const channel = await connection.createChannel();
      await channel.assertQueue(queue, RPC_QUEUE_OPTIONS);
      await channel.prefetch(prefetch);
      if (this.closing) {
        await connection.close();
        return;
      }
      const acks = new AckBatcher(channel, Math.max(1, Math.floor(prefetch / 2)));
      const { consumerTag } = await channel.consume(queue, (message) => this.onMessage(message, channel, acks));
      if (this.closing) {
        await connection.close();
        return;
      }
      const link: Link = { connection, channel, consumerTag };
      this.watch(link);
      this.link = link;
      this.reconnectAttempt = 0;
      this.logger.log(`consuming ${queue} (prefetch ${prefetch})`);
    } catch (error) {
      await connection?.close().catch(() => undefined);
      this.logger.warn(`cannot consume ${queue} at ${redactUrl(url)}: ${describeError(error)}`);
      this.scheduleReconnect();
    }
  }

  private watch(link: Link): void {
    link.connection.on('error', (error: unknown) => this.logger.warn(`connection error: ${describeError(error)}`));
    link.channel.on('error', (error: unknown) => this.logger.warn(`channel error: ${describeError(error)}`));
    link.channel.on('close', () => void link.connection.close().catch(() => undefined));
    link.connection.on('close', () => {
      if (this.link !== link) return;
      this.link = undefined;
      if (this.closing) return;
      this.logger.warn('broker connection lost; unacked requests go back to the queue; reconnecting');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closing) return;
    const delay = backoffDelayMs(this.reconnectAttempt++, this.options.reconnectDelayMs ?? [100, 5000]);
    this.reconnectTimer = setTimeout(() => void this.attemptConnect(), delay);
  }

  private onMessage(message: ConsumeMessage | null, channel: Channel, acks: AckBatcher): void {
    if (message === null) {
      // The broker cancelled us (queue deleted): start over, which re-declares it.
      this.logger.warn(`consumer of ${this.options.queue} cancelled by the broker; re-declaring`);
      void this.link?.connection.close().catch(() => undefined);
      return;
    }
    this.inHand++;
    acks.received(message);
    void this.answer(message, channel, acks).finally(() => {
      this.inHand--;
      if (this.inHand === 0 && this.onIdle !== undefined) this.onIdle();
    });
  }

  private async answer(message: ConsumeMessage, channel: Channel, acks: AckBatcher): Promise<void> {
    const startedAt = performance.now();
    const { replyTo, correlationId } = message.properties as { replyTo?: string; correlationId?: string };
    if (!replyTo) {
      this.stats.dropped++;
      this.logger.warn(`request without reply_to dropped (correlation id ${correlationId ?? 'none'})`);
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
      acks.done(message);
    } catch (error) {
      // Channel gone before the ack: the broker redelivers the request to a live worker.
      this.logger.warn(`reply not sent (${describeError(error)}); the request will be redelivered`);
      return;
    }
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

/** What Nest's RPC exception layer hands back: `RpcException.getError()` or `{status, message}`. */
function toErrorBody(error: unknown): RpcErrorBody {
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as Record<string, unknown>;
    if (isRpcErrorCode(code) && typeof message === 'string') return { code, message };
  }
  return { code: RpcErrorCode.INTERNAL, message: 'internal error computing the reply' };
}
