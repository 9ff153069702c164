import { DEFAULT_FIB_MAX_N, DEFAULT_RPC_QUEUE, RpcQueueType } from '@app/contracts';
import { createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseAmqpUrlList, redactUrl } from './amqp-url';
import { ConfigError } from './config.error';

export { ConfigError };

/** Every setting of docs/configuration.md, typed; `loadConfig` reads them from the environment. */
export interface AppConfig {
  /** AMQP_URL (or the contents of AMQP_URL_FILE): the nodes, each a full amqp:// or amqps:// URL. */
  amqpUrls: readonly string[];
  /** AMQP_HEARTBEAT_S; 0 = no heartbeat. */
  amqpHeartbeatS: number;
  /** AMQP_CONNECT_TIMEOUT_MS: TCP + TLS + AMQP handshake of one attempt. */
  amqpConnectTimeoutMs: number;
  /** Contents of AMQP_CA_FILE, AMQP_CERT_FILE, AMQP_KEY_FILE (PEM), read at start. */
  amqpTls: AmqpTlsFiles;
  /** AMQP_AUTH: `external` logs in by the client certificate. */
  amqpAuth: AmqpAuth;
  rpcQueue: string;
  /** RPC_QUEUE_TYPE: how the worker declares the request queue when it does not exist. */
  rpcQueueType: RpcQueueType;
  rpcTimeoutMs: number;
  rpcMaxInFlight: number;
  rpcFailoverHoldMs: number;
  rpcReplyMode: 'queue' | 'direct';
  fibMaxN: number;
  workerPrefetch: number;
  port: number;
  workerHttpPort: number;
  logLevel: LogLevel;
}

export interface AmqpTlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export type AmqpAuth = 'plain' | 'external';
export type { RpcQueueType };
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'verbose';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'verbose'];

type Env = Record<string, string | undefined>;

export const CONFIG_DEFAULTS: AppConfig = {
  amqpUrls: ['amqp://guest:guest@localhost:5672'],
  amqpHeartbeatS: 5,
  amqpConnectTimeoutMs: 3000,
  amqpTls: {},
  amqpAuth: 'plain',
  rpcQueue: DEFAULT_RPC_QUEUE,
  rpcQueueType: 'quorum',
  rpcTimeoutMs: 5000,
  rpcMaxInFlight: 5000,
  rpcFailoverHoldMs: 1000,
  rpcReplyMode: 'direct',
  fibMaxN: DEFAULT_FIB_MAX_N,
  workerPrefetch: 100,
  port: 3000,
  workerHttpPort: 3001,
  logLevel: 'info',
};

/** Reads and validates the whole configuration (and the files it names); throws ConfigError on the first bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const d = CONFIG_DEFAULTS;
  const amqpUrls = urlList(env, d.amqpUrls);
  const amqpTls = tlsFiles(env);
  return {
    amqpUrls,
    amqpHeartbeatS: int(env, 'AMQP_HEARTBEAT_S', d.amqpHeartbeatS, 0, 3600),
    amqpConnectTimeoutMs: int(env, 'AMQP_CONNECT_TIMEOUT_MS', d.amqpConnectTimeoutMs, 100, 600_000),
    amqpTls,
    amqpAuth: auth(env, d.amqpAuth, amqpUrls, amqpTls),
    rpcQueue: queueName(env, 'RPC_QUEUE', d.rpcQueue),
    rpcQueueType: oneOf(env, 'RPC_QUEUE_TYPE', d.rpcQueueType, ['quorum', 'classic', 'transient'] as const),
    rpcTimeoutMs: int(env, 'RPC_TIMEOUT_MS', d.rpcTimeoutMs, 1, 2 ** 31 - 1),
    rpcMaxInFlight: int(env, 'RPC_MAX_IN_FLIGHT', d.rpcMaxInFlight, 1, 1_000_000),
    rpcFailoverHoldMs: int(env, 'RPC_FAILOVER_HOLD_MS', d.rpcFailoverHoldMs, 0, 60_000),
    rpcReplyMode: oneOf(env, 'RPC_REPLY_MODE', d.rpcReplyMode, ['queue', 'direct'] as const),
    fibMaxN: int(env, 'FIB_MAX_N', d.fibMaxN, 0, 10_000_000),
    workerPrefetch: int(env, 'WORKER_PREFETCH', d.workerPrefetch, 1, 65_535),
    port: int(env, 'PORT', d.port, 0, 65_535),
    workerHttpPort: int(env, 'WORKER_HTTP_PORT', d.workerHttpPort, 0, 65_535),
    logLevel: oneOf(env, 'LOG_LEVEL', d.logLevel, LOG_LEVELS),
  };
}

/** Line breaks (including the ones JSON.stringify leaves alone) escaped, so a message stays one line. */

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(name, value, `expected an integer from ${min} to ${max}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new ConfigError(name, value, `expected one of ${allowed.join(', ')}`);
  return value as T;
}

/** AMQP_URL_FILE wins over AMQP_URL; neither value is ever shown unredacted. */
function urlList(env: Env, fallback: readonly string[]): readonly string[] {
  const path = raw(env, 'AMQP_URL_FILE');
  if (path !== undefined) {
    const content = readFile('AMQP_URL_FILE', path).toString('utf8');
    try {
      return parseAmqpUrlList(content, 'AMQP_URL_FILE');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const shown = JSON.stringify(redactUrl(content.trim()));
      throw new ConfigError('AMQP_URL_FILE', path, `its content ${shown}: ${error.detail}`);
    }
  }
  const value = raw(env, 'AMQP_URL');
  return value === undefined ? fallback : parseAmqpUrlList(value, 'AMQP_URL');
}

function readFile(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(name, path, `cannot read the file (${code})`);
  }
}

/** Read once at start: a file that cannot be read or does not hold PEM of the right kind stops the process. */
function tlsFiles(env: Env): AmqpTlsFiles {
  const files: AmqpTlsFiles = {};
  const caPath = raw(env, 'AMQP_CA_FILE');
  if (caPath !== undefined) {
    files.ca = readFile('AMQP_CA_FILE', caPath);
    certificates('AMQP_CA_FILE', caPath, files.ca);
  }
  const certPath = raw(env, 'AMQP_CERT_FILE');
  const keyPath = raw(env, 'AMQP_KEY_FILE');
  if (certPath !== undefined && keyPath === undefined)
    throw new ConfigError(
      'AMQP_KEY_FILE',
      undefined,
      'not set, but AMQP_CERT_FILE is: a client certificate needs its key',
    );
  if (keyPath !== undefined && certPath === undefined)
    throw new ConfigError(
      'AMQP_CERT_FILE',
      undefined,
      'not set, but AMQP_KEY_FILE is: a client key needs its certificate',
    );
  if (certPath !== undefined && keyPath !== undefined) {
    files.cert = readFile('AMQP_CERT_FILE', certPath);
    const [leaf] = certificates('AMQP_CERT_FILE', certPath, files.cert);
    files.key = readFile('AMQP_KEY_FILE', keyPath);
    const key = privateKey(keyPath, files.key);
    if (!leaf.checkPrivateKey(key))
      throw new ConfigError('AMQP_KEY_FILE', keyPath, 'is not the key of the (first) certificate in AMQP_CERT_FILE');
  }
  return files;
}

/** Every PEM certificate in the file (a CA file or a chain may hold several); at least one. */
function certificates(name: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new ConfigError(name, path, 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----")');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new ConfigError(name, path, `certificate ${i + 1} of ${blocks.length} does not parse`);
    }
  });
}

function privateKey(path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The key's text is a secret: neither it nor the parser's message (which may quote it) is shown.
    throw new ConfigError('AMQP_KEY_FILE', path, 'holds no unencrypted PEM private key');
  }
}

function auth(env: Env, fallback: AmqpAuth, urls: readonly string[], tls: AmqpTlsFiles): AmqpAuth {
  const value = oneOf(env, 'AMQP_AUTH', fallback, ['plain', 'external'] as const);
  if (value !== 'external') return value;
  if (tls.cert === undefined || tls.key === undefined)
    throw new ConfigError(
      'AMQP_AUTH',
      value,
      'external needs AMQP_CERT_FILE and AMQP_KEY_FILE (the certificate is the login)',
    );
  const plain = urls.findIndex((url) => !/^amqps:\/\//i.test(url));
  if (plain !== -1)
    throw new ConfigError(
      'AMQP_AUTH',
      value,
      `external needs amqps:// URLs, and entry ${plain + 1} of ${urls.length} is not`,
    );
  return value;
}

function queueName(env: Env, name: string, fallback: string): string {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (Buffer.byteLength(value) > 255 || value.startsWith('amq.')) {
    throw new ConfigError(name, value, 'expected a queue name of at most 255 bytes, not starting with "amq."');
  }
  return value;
}
