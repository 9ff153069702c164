import { ChannelModel, connect, credentials } from 'amqplib';
import { Socket } from 'node:net';
import { toConnectOptions } from './amqp-url';

/** How to open one broker connection; the same for every node of a URL list. */
export interface AmqpConnectSettings {
  /** Name shown for the connection in the broker's management UI. */
  connectionName: string;
  /** Heartbeat timeout asked of the broker, in seconds (amqplib 2.x: 0 turns heartbeats off). */
  heartbeatS: number;
  /** TCP + TLS + AMQP handshake deadline, in ms. */
  connectTimeoutMs: number;
  /** CA, client certificate and key for amqps:// nodes. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** `external`: log in by the client certificate (EXTERNAL mechanism), no password. */
  auth?: 'plain' | 'external';
}

/** A connection attempt that did not finish within `connectTimeoutMs`. */
export class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
  readonly code = 'CONNECT_TIMEOUT';

  constructor(readonly timeoutMs: number) {
    super(`no AMQP handshake within ${timeoutMs} ms (AMQP_CONNECT_TIMEOUT_MS)`);
  }
}

/**
 * Opens a broker connection (written for amqplib 2.x) with Nagle's algorithm
 * off, the frames of one event-loop turn coalesced into one socket write, and
 * the whole handshake bounded by `connectTimeoutMs`: amqplib's own socket
 * timeout only fires on an idle socket, so a connection that completes after
 * the deadline is closed here instead of being used.
 */
export function connectAmqp(url: string, settings: AmqpConnectSettings): Promise<ChannelModel> {
  const { heartbeat, ...endpoint } = toConnectOptions(url);
  const tls = endpoint.protocol === 'amqps' ? (settings.tls ?? {}) : {};
  const opening = connect(
    { ...endpoint, heartbeat: heartbeat ?? settings.heartbeatS },
    {
      noDelay: true,
      timeout: settings.connectTimeoutMs,
      clientProperties: { connection_name: settings.connectionName },
      ...tls,
      ...(settings.auth === 'external' ? { credentials: credentials.external() } : {}),
    },
  );
  return new Promise<ChannelModel>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new ConnectTimeoutError(settings.connectTimeoutMs));
    }, settings.connectTimeoutMs);
    opening.then(
      (connection) => {
        clearTimeout(timer);
        if (late) {
          connection.on('error', () => undefined);
          destroyConnection(connection, 'connected after the deadline');
          return;
        }
        coalesceWrites(connection);
        resolve(connection);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Ends a connection now, without waiting on the broker: a silent link never
 * answers `connection.close`. Destroying the socket with an error makes
 * amqplib run its own close path ('error' then 'close', heartbeat stopped).
 */
export function destroyConnection(connection: ChannelModel, reason: string): void {
  const stream = socketOf(connection);
  if (stream !== undefined && !stream.destroyed) stream.destroy(new Error(reason));
}

/**
 * Closes a connection politely, then by force if the broker has not
 * confirmed within `graceMs`. Never rejects.
 */
export async function closeConnection(connection: ChannelModel, graceMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const polite = connection.close().then(
    () => true,
    () => false,
  );
  const grace = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
  const closed = await Promise.race([polite, grace]);
  clearTimeout(timer);
  if (!closed) destroyConnection(connection, 'closed without the broker confirming');
}

function socketOf(connection: ChannelModel): Socket | undefined {
  const stream: unknown = (connection as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  return stream instanceof Socket ? stream : undefined;
}

/**
 * amqplib's writer hands the socket one frame at a time, each its own
 * syscall and TCP segment. Corking the socket on the first write of a turn
 * and uncorking on the next tick sends them as one writev; nothing waits
 * longer than the current turn, so latency is unchanged. Skipped if amqplib's
 * internals ever stop exposing the socket.
 */
function coalesceWrites(connection: ChannelModel): void {
  const stream = socketOf(connection);
  if (stream === undefined) return;
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
