import { Channel, ChannelModel, connect, ConsumeMessage } from 'amqplib';
import { randomBytes } from 'node:crypto';

/** The shared local broker (CI's too). */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * True on a broker with RabbitMQ 4.3's default of refusing non-durable,
 * non-exclusive queues (CI's rabbitmq-4 leg sets FIB_RPC_TRANSIENT_DENIED=1):
 * tests of the seed's transient queue then check the refusal instead.
 */
export const TRANSIENT_QUEUES_DENIED = process.env.FIB_RPC_TRANSIENT_DENIED === '1';

/** How tests declare a request queue themselves: as RabbitMQ's tutorial does today (works on every broker). */
export const TEST_QUEUE_OPTIONS = { durable: true, arguments: { 'x-queue-type': 'quorum' } } as const;

/** A queue name of this test file's own, so files can run in parallel. */
export function uniqueQueue(label: string): string {
  return `test.${label}.${process.pid}.${randomBytes(3).toString('hex')}`;
}

/** A raw broker connection for peers and inspection, closed by `close()`. */
export async function openBroker(): Promise<ChannelModel> {
  const connection = await connect(AMQP_URL, { noDelay: true });
  // A broker closing the connection (541, heartbeat) reaches the test through its rejected calls; not a crash.
  connection.on('error', () => undefined);
  return connection;
}

/** Deletes queues a test declared, so nothing is left behind. */
export async function deleteQueues(...queues: string[]): Promise<void> {
  const connection = await openBroker();
  try {
    for (const queue of queues) {
      const channel = await connection.createChannel();
      await channel.deleteQueue(queue);
      await channel.close();
    }
  } finally {
    await connection.close();
  }
}

/** Consumer count of a queue as the broker sees it (0 if absent). */
export async function consumerCount(queue: string): Promise<number> {
  const connection = await openBroker();
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return (await channel.checkQueue(queue)).consumerCount;
  } catch {
    return 0;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 20 ms until it is true, failing after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A raw caller's side: a connection with an exclusive reply queue, replies kept by correlation id. */
export interface ReplyCollector {
  connection: ChannelModel;
  channel: Channel;
  replyQueue: string;
  replies: Map<string, ConsumeMessage>;
  /** Replies that came without a correlation id. */
  anonymous: ConsumeMessage[];
}

export async function openReplyCollector(): Promise<ReplyCollector> {
  const connection = await openBroker();
  const channel = await connection.createChannel();
  const replyQueue = (await channel.assertQueue('', { exclusive: true })).queue;
  const collector: ReplyCollector = { connection, channel, replyQueue, replies: new Map(), anonymous: [] };
  await channel.consume(
    replyQueue,
    (message) => {
      if (message === null) return;
      const id = message.properties.correlationId as string | undefined;
      if (id === undefined) collector.anonymous.push(message);
      else collector.replies.set(id, message);
    },
    { noAck: true },
  );
  return collector;
}
