import { RPC_QUEUE_DECLARATIONS, RpcQueueType } from '@app/contracts';
import { describeError } from '@app/runtime';
import { Channel, ChannelModel } from 'amqplib';

/** AMQP reply codes the adoption step tells apart. */
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
const ACCESS_REFUSED = 403;

/**
 * Adopts the request queue as it exists — whatever its type and arguments, a
 * passive check never fails on them — and declares it, as `type` says, only
 * when it is absent. Losing that declaration race to a peer that declared it
 * differently (406) means: use theirs. Each step runs on a channel of its own,
 * since a 404 or 406 closes the channel it happens on.
 */
export async function adoptQueue(
  connection: ChannelModel,
  queue: string,
  type: RpcQueueType,
): Promise<{ declared: boolean }> {
  if (await exists(connection, queue)) return { declared: false };
  const channel = await openQuietChannel(connection);
  try {
    await channel.assertQueue(queue, RPC_QUEUE_DECLARATIONS[type]);
    return { declared: true };
  } catch (error) {
    if (codeOf(error) !== PRECONDITION_FAILED) throw error;
    return { declared: false };
  } finally {
    closeQuietly(channel);
  }
}

async function exists(connection: ChannelModel, queue: string): Promise<boolean> {
  const channel = await openQuietChannel(connection);
  try {
    await channel.checkQueue(queue);
    return true;
  } catch (error) {
    if (codeOf(error) === NOT_FOUND) return false;
    throw error;
  } finally {
    closeQuietly(channel);
  }
}

/**
 * Closes a step's channel without waiting: amqplib 2.x never settles `close()` when the connection dies before
 * the broker's close-ok, and a set-up awaiting it hung until its deadline (a cut right after a declare-ok).
 */
function closeQuietly(channel: Channel): void {
  channel.close().catch(() => undefined);
}

async function openQuietChannel(connection: ChannelModel): Promise<Channel> {
  const channel = await connection.createChannel();
  // A refused step closes the channel with an 'error' event; the step's promise carries it.
  channel.on('error', () => undefined);
  return channel;
}

/**
 * One clear line for a broker that refuses the request queue, naming the
 * setting to change; undefined for other failures.
 */
export function explainQueueRefusal(error: unknown, queue: string, type: RpcQueueType): string | undefined {
  const text = describeError(error);
  const code = codeOf(error);
  if (code === ACCESS_REFUSED || /ACCESS_REFUSED|access to .* refused/i.test(text)) {
    return `access refused on ${queue} (${text}): ${missingWorkerPermission(text, queue)}`;
  }
  if (/transient_nonexcl_queues/.test(text)) {
    return `the broker refuses to declare ${queue} as RPC_QUEUE_TYPE=${type} (${text}): set RPC_QUEUE_TYPE=quorum or classic, or declare the queue beforehand`;
  }
  if (code === 541 || /INTERNAL_ERROR|NOT_ALLOWED|530|540/.test(text)) {
    return `the broker refused ${queue} with RPC_QUEUE_TYPE=${type} (${text})`;
  }
  return undefined;
}

/**
 * Which permission the refused step needed (RabbitMQ's 403 text names the resource, not the permission),
 * and the whole set the worker's user needs (README "Security").
 */
function missingWorkerPermission(text: string, queue: string): string {
  const own = `^${queue.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
  const needed = `configure '${own}' write '^amq\\.default$' read '${own}'`;
  const lacks = /QueueDeclare/.test(text)
    ? `configure on ${queue} (needed to declare it while it does not exist)`
    : /BasicConsume/.test(text)
      ? `read on ${queue} (needed to consume it)`
      : /exchange 'amq\.default'/.test(text)
        ? 'write on the default exchange (needed to publish replies)'
        : undefined;
  return `${lacks === undefined ? '' : `the worker's broker user lacks ${lacks}; `}its permissions should be ${needed}`;
}

function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
