/**
 * Peers written the way the RabbitMQ RPC tutorial writes them, directly on
 * amqplib and sharing no code with ours: if these interoperate with our apps,
 * the tutorial's programs in any language do.
 */
import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { openBroker } from './broker';

function fibonacci(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

export interface TutorialServerOptions {
  /**
   * How the server declares the queue: `quorum` as RabbitMQ's tutorial does today
   * (`durable: true, x-queue-type: quorum`), `transient` as the aio-pika seed and the
   * 2010s tutorial do (`durable: false`).
   * @default 'quorum'
   */
  queueType?: 'quorum' | 'transient';
  /** Delay before each reply, to play a slow worker. */
  delayMs?: number;
  /** Replace the reply, e.g. with an error reply; default: the tutorial's. */
  reply?: (message: ConsumeMessage, channel: Channel) => void;
}

/** rpc_server.js: declares the queue (see `queueType`), prefetch 1, replies with sendToQueue, then acks. */
export class TutorialServer {
  received = 0;
  private connection: ChannelModel | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  static async start(queue: string, options: TutorialServerOptions = {}): Promise<TutorialServer> {
    const server = new TutorialServer();
    const connection = await openBroker();
    server.connection = connection;
    const channel = await connection.createChannel();
    // A refused declaration (406) rejects start() below; the channel's 'error' event must not also crash the test.
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(
        queue,
        options.queueType === 'transient'
          ? { durable: false }
          : { durable: true, arguments: { 'x-queue-type': 'quorum' } },
      );
    } catch (error) {
      await connection.close();
      throw error;
    }
    await channel.prefetch(1);
    await channel.consume(queue, (message) => {
      if (message === null) return;
      server.received++;
      const answer = (): void => {
        if (options.reply) {
          options.reply(message, channel);
        } else {
          const n = parseInt(message.content.toString(), 10);
          channel.sendToQueue(message.properties.replyTo as string, Buffer.from(fibonacci(n).toString()), {
            correlationId: message.properties.correlationId as string,
          });
        }
        channel.ack(message);
      };
      if (options.delayMs) {
        const timer = setTimeout(() => {
          server.timers.delete(timer);
          answer();
        }, options.delayMs);
        server.timers.add(timer);
      } else {
        answer();
      }
    });
    return server;
  }

  /** Stops like a killed process: what it held unacked goes back to the queue. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    await this.connection?.close().catch(() => undefined);
  }
}

export interface TutorialReply {
  body: string;
  properties: ConsumeMessage['properties'];
}

/** rpc_client.js: an exclusive server-named callback queue, a uuid correlation id, no content_type. */
export class TutorialClient {
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
    private readonly callbackQueue: string,
    private readonly waiting: Map<string, (reply: TutorialReply) => void>,
  ) {}

  static async open(): Promise<TutorialClient> {
    const connection = await openBroker();
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const waiting = new Map<string, (reply: TutorialReply) => void>();
    await channel.consume(
      queue,
      (message) => {
        const id = message?.properties.correlationId as string | undefined;
        const resolve = id === undefined ? undefined : waiting.get(id);
        if (message && resolve) {
          waiting.delete(id as string);
          resolve({ body: message.content.toString(), properties: message.properties });
        }
      },
      { noAck: true },
    );
    return new TutorialClient(connection, channel, queue, waiting);
  }

  /** Sends `body` (a string, as the tutorial does with n.toString()) and waits for the matching reply. */
  call(queue: string, body: string | Buffer, timeoutMs = 5000): Promise<TutorialReply> {
    const correlationId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        this.timers.delete(timer);
        reject(
          new Error(`tutorial client: no reply to ${JSON.stringify(String(body).slice(0, 20))} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.timers.add(timer);
      this.waiting.set(correlationId, (reply) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(reply);
      });
      this.channel.sendToQueue(queue, typeof body === 'string' ? Buffer.from(body) : body, {
        correlationId,
        replyTo: this.callbackQueue,
      });
    });
  }

  /** Closes the connection; calls still waiting are left unanswered, their timers cleared. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.connection.close().catch(() => undefined);
  }
}
