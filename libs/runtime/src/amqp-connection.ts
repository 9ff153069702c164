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
        const failure = error instanceof Error ? error : new Error(String(error));
        reject(endpoint.protocol === 'amqps' ? explainTlsFailure(failure, tls) : failure);
      },
    );
  });
}

/**
 * A TLS handshake that failed, said in one line with the setting to look at.
 * `code` is Node's or OpenSSL's (e.g. SELF_SIGNED_CERT_IN_CHAIN,
 * ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED); `cause` the original error.
 */
export class TlsHandshakeError extends Error {
  override readonly name = 'TlsHandshakeError';

  constructor(
    message: string,
    readonly code: string,
    cause: Error,
  ) {
    super(message, { cause });
  }
}

/** Node's codes for a server certificate that does not chain to a trusted CA. */
const SERVER_NOT_TRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
/** OpenSSL alerts a broker sends when it rejects the client certificate it was given. */
const CLIENT_CERT_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
]);

/**
 * OpenSSL's text ("80FC…:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1
 * alert unknown ca:../deps/openssl/…:1601:SSL alert number 48\n") as one
 * line that says what failed and which setting to check. Errors that are
 * not TLS failures pass unchanged.
 */
function explainTlsFailure(error: Error, tls: { ca?: Buffer; cert?: Buffer }): Error {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  const given = (error as { reason?: unknown }).reason;
  const reason = `${typeof given === 'string' && given !== '' ? given : error.message.split('\n')[0].trim()}, ${code}`;
  const explain = (text: string): TlsHandshakeError => new TlsHandshakeError(`TLS: ${text}`, code, error);
  if (SERVER_NOT_TRUSTED.has(code)) {
    const hint =
      tls.ca === undefined ? 'give its CA in AMQP_CA_FILE' : 'AMQP_CA_FILE does not hold the CA that signed it';
    return explain(`the broker's certificate is not trusted (${reason}): ${hint}`);
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return explain(`the broker's certificate is not valid now (${reason})`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return explain(
      `the broker's certificate does not name the host of the URL (${reason}): connect by a name it lists`,
    );
  }
  if (
    code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' ||
    (code.startsWith('ERR_SSL_') && tls.cert === undefined && /handshake failure/i.test(reason))
  ) {
    return explain(`the broker requires a client certificate (${reason}): set AMQP_CERT_FILE and AMQP_KEY_FILE`);
  }
  if (CLIENT_CERT_REFUSED.has(code)) {
    const hint =
      tls.cert === undefined
        ? 'it may require a client certificate (AMQP_CERT_FILE, AMQP_KEY_FILE)'
        : 'the certificate of AMQP_CERT_FILE must be signed by a CA the broker trusts';
    return explain(`the broker refused the TLS handshake (${reason}): ${hint}`);
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return explain(`handshake failed (${reason})`);
  }
  return error;
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
