import { ChannelModel, connect } from 'amqplib';
import { Socket } from 'node:net';

/**
 * Opens a broker connection with Nagle's algorithm off (amqplib leaves it on,
 * which costs ~40 ms per call when a reply and its ack go out as two writes)
 * and with the frames of one event-loop turn coalesced into one socket write.
 */
export async function connectAmqp(url: string, connectionName: string): Promise<ChannelModel> {
  const connection = await connect(url, { noDelay: true, clientProperties: { connection_name: connectionName } });
  coalesceWrites(connection);
  return connection;
}

/**
 * amqplib's writer hands the socket one frame at a time, each its own
 * syscall and TCP segment. Corking the socket on the first write of a turn
 * and uncorking on the next tick sends them as one writev; nothing waits
 * longer than the current turn, so latency is unchanged. Skipped if amqplib's
 * internals ever stop exposing the socket.
 */
function coalesceWrites(connection: ChannelModel): void {
  const stream: unknown = (connection as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!(stream instanceof Socket)) return;
  const write = stream.write.bind(stream);
  let corked = false;
  const uncork = (): void => {
    corked = false;
    stream.uncork();
  };
  stream.write = ((...args: Parameters<Socket['write']>): boolean => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Socket['write'];
}

/** Reconnect delay for the given attempt: doubling from `min` up to `max`, with jitter over its upper half. */
export function backoffDelayMs(attempt: number, [min, max]: readonly [number, number]): number {
  const ceiling = Math.min(max, min * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
