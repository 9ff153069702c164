import { decodeErrorReply, DIRECT_REPLY_TO, ERROR_REPLY_TYPE, TEXT_CONTENT_TYPE } from '@app/contracts';
import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { backoffDelayMs, connectAmqp, describeError, redactUrl } from '@app/runtime';
import { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
import { randomBytes } from 'node:crypto';
import {
  BrokerUnavailableError,
  ClientClosedError,
  ConnectionLostError,
  NoWorkerError,
  OverloadedError,
  RemoteRpcError,
  RpcClientError,
  RpcTimeoutError,
} from './errors';
import { RPC_CLIENT_DEFAULTS } from './rpc-client.constants';
import { RpcCall, RpcCallOptions, RpcClientOptions, RpcClientStats } from './rpc-client.interfaces';

interface PendingCall {
  resolve(value: string): void;
  reject(error: RpcClientError): void;
  timer: NodeJS.Timeout;
}

interface Link {
  connection: ChannelModel;
  channel: Channel;
  replyTo: string;
}

type State = 'idle' | 'connecting' | 'ready' | 'closing' | 'closed';

/**
 * Request/reply over RabbitMQ, the tutorial's way, with answers to its open
 * questions: every call ends in a value or a typed error (deadline, no worker,
 * connection lost, overload, remote error, closed), never waits forever, and
 * is never buffered to be sent late.
 *
 * One connection, one channel and one reply path per instance; pending calls
 * are a Map keyed by correlation id, each with its own deadline timer.
 */
export class RpcClient implements OnModuleInit, OnApplicationShutdown {
  readonly stats: RpcClientStats = { unknownReplies: 0, reconnects: 0 };

  private readonly options: Required<RpcClientOptions>;
  private readonly logger = new Logger(RpcClient.name);
  private readonly pending = new Map<string, PendingCall>();
  private readonly idPrefix = `${randomBytes(6).toString('base64url')}.`;
  private nextId = 0;

  private state: State = 'idle';
  private link: Link | undefined;
  private consumers = 0;
  private checkChannel: Channel | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private firstAttempt: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;

  constructor(options: RpcClientOptions = {}) {
    this.options = { ...RPC_CLIENT_DEFAULTS, ...withoutUndefined(options) };
  }

  /** True while connected with a reply path: calls can be sent. */
  get isConnected(): boolean {
    return this.state === 'ready';
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

  /** Starts connecting; resolves after the first attempt, whatever its outcome (it keeps retrying). */
  connect(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'connecting';
      this.firstAttempt = this.attemptConnect();
    }
    return this.firstAttempt ?? Promise.resolve();
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
    const failure = this.refusal();
    if (failure) return { correlationId: undefined, reply: Promise.reject(failure) };
    const link = this.link as Link;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const correlationId = this.idPrefix + (this.nextId++).toString(36);

    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => this.onDeadline(correlationId, timeoutMs), timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      try {
        link.channel.publish('', this.options.queue, body, {
          correlationId,
          replyTo: link.replyTo,
          expiration: timeoutMs,
          contentType: TEXT_CONTENT_TYPE,
          mandatory: true,
          messageId: options.messageId,
          headers: options.headers,
        });
      } catch {
        // The channel closed under us; its close handler fails the other calls.
        this.settle(correlationId)?.reject(new ConnectionLostError(this.options.queue, correlationId));
      }
    });
    return { correlationId, reply };
  }

  /**
   * Stops taking calls, lets pending ones finish (each is bounded by its
   * deadline) unless `drain` is false, then closes the connection. Every
   * pending call is settled when this resolves.
   */
  async close({ drain = true }: { drain?: boolean } = {}): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    clearTimeout(this.reconnectTimer);
    if (drain && this.pending.size > 0) {
      await new Promise<void>((resolve) => (this.onDrained = resolve));
    }
    this.failAll(() => new ClientClosedError(this.options.queue));
    this.stopConsumerChecks();
    const link = this.link;
    this.link = undefined;
    this.state = 'closed';
    await link?.connection.close().catch(() => undefined);
  }

  private refusal(): RpcClientError | undefined {
    switch (this.state) {
      case 'ready':
        break;
      case 'closing':
      case 'closed':
        return new ClientClosedError(this.options.queue);
      default:
        return new BrokerUnavailableError(this.options.queue);
    }
    if (this.consumers === 0) return new NoWorkerError(this.options.queue, 'no-consumers');
    if (this.pending.size >= this.options.maxInFlight) {
      return new OverloadedError(this.options.queue, this.options.maxInFlight);
    }
    return undefined;
  }

  /** Removes a pending call and its timer; undefined if it was not pending. */
  private settle(correlationId: string): PendingCall | undefined {
    const call = this.pending.get(correlationId);
    if (call === undefined) return undefined;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    if (this.onDrained !== undefined && this.pending.size === 0) this.onDrained();
    return call;
  }

  private onDeadline(correlationId: string, timeoutMs: number): void {
    this.settle(correlationId)?.reject(new RpcTimeoutError(this.options.queue, correlationId, timeoutMs));
  }

  private readonly onReply = (message: ConsumeMessage | null): void => {
    if (message === null) {
      // Our reply consumer was cancelled by the broker: treat it as a lost link.
      void this.link?.connection.close().catch(() => undefined);
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
  private readonly onReturn = (message: Message): void => {
    this.consumers = 0;
    const correlationId = (message.properties as { correlationId?: string }).correlationId;
    if (correlationId === undefined) return;
    this.settle(correlationId)?.reject(new NoWorkerError(this.options.queue, 'unroutable'));
  };

  private async attemptConnect(): Promise<void> {
    const { url, connectionName, replyMode } = this.options;
    let connection: ChannelModel | undefined;
    try {
      connection = await connectAmqp(url, connectionName);
      const channel = await connection.createChannel();
      let replyTo: string;
      if (replyMode === 'direct') {
        replyTo = DIRECT_REPLY_TO;
      } else {
        replyTo = (await channel.assertQueue('', { exclusive: true, autoDelete: true })).queue;
      }
      await channel.consume(replyTo, this.onReply, { noAck: true });
      channel.on('return', this.onReturn);
      if (this.state !== 'connecting') {
        await connection.close();
        return;
      }
      const link: Link = { connection, channel, replyTo };
      this.watch(link);
      this.link = link;
      await this.checkConsumers();
      this.state = 'ready';
      if (this.reconnectAttempt > 0) this.stats.reconnects++;
      this.reconnectAttempt = 0;
      this.logger.log(`connected; reply path ${replyMode === 'direct' ? replyTo : 'callback queue'}`);
      this.scheduleConsumerCheck();
    } catch (error) {
      this.link = undefined;
      await connection?.close().catch(() => undefined);
      this.logger.warn(`cannot connect to ${redactUrl(url)}: ${describeError(error)}`);
      this.scheduleReconnect();
    }
  }

  private watch(link: Link): void {
    link.connection.on('error', (error: unknown) => this.logger.warn(`connection error: ${describeError(error)}`));
    link.channel.on('error', (error: unknown) => this.logger.warn(`channel error: ${describeError(error)}`));
    // A channel closing alone would leave a half-working client; drop the whole link instead.
    link.channel.on('close', () => void link.connection.close().catch(() => undefined));
    link.connection.on('close', () => this.onLinkLost(link));
  }

  private onLinkLost(link: Link): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.stopConsumerChecks();
    if (this.state === 'closing' || this.state === 'closed') {
      this.failAll(() => new ClientClosedError(this.options.queue));
      return;
    }
    this.state = 'connecting';
    const failed = this.failAll((id) => new ConnectionLostError(this.options.queue, id));
    this.logger.warn(`broker connection lost; ${failed} pending calls failed; reconnecting`);
    this.scheduleReconnect();
  }

  private failAll(error: (correlationId: string) => RpcClientError): number {
    const ids = [...this.pending.keys()];
    for (const id of ids) this.settle(id)?.reject(error(id));
    return ids.length;
  }

  private scheduleReconnect(): void {
    if (this.state !== 'connecting') return;
    const delay = backoffDelayMs(this.reconnectAttempt++, this.options.reconnectDelayMs);
    this.reconnectTimer = setTimeout(() => void this.attemptConnect(), delay);
  }

  private scheduleConsumerCheck(): void {
    this.checkTimer = setTimeout(() => {
      void this.checkConsumers().then(() => {
        if (this.state === 'ready') this.scheduleConsumerCheck();
      });
    }, this.options.consumerCheckIntervalMs);
    this.checkTimer.unref();
  }

  private stopConsumerChecks(): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
    this.checkChannel = undefined;
  }

  /**
   * Reads the request queue's consumer count on a channel of its own (a
   * passive declare of an absent queue closes the channel it runs on). Calls
   * pending through two checks in a row that saw no consumer fail at once:
   * nobody is left to answer them before their deadline.
   */
  private async checkConsumers(): Promise<void> {
    const link = this.link;
    if (link === undefined) return;
    let count = 0;
    try {
      if (this.checkChannel === undefined) {
        const channel = await link.connection.createChannel();
        channel.on('error', () => undefined);
        channel.on('close', () => {
          if (this.checkChannel === channel) this.checkChannel = undefined;
        });
        this.checkChannel = channel;
      }
      count = (await this.checkChannel.checkQueue(this.options.queue)).consumerCount;
    } catch {
      count = 0; // 404: the queue does not exist (or the link is going down)
    }
    if (this.link !== link) return;
    if (count === 0 && this.consumers === 0 && this.pending.size > 0) {
      const failed = this.failAll(() => new NoWorkerError(this.options.queue, 'no-consumers'));
      this.logger.warn(`no worker consuming ${this.options.queue}; ${failed} pending calls failed`);
    }
    this.consumers = count;
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
