import { DEFAULT_FIB_MAX_N, DEFAULT_RPC_QUEUE } from '@app/contracts';

/** Every setting of ../shared/CONTRACT.md, typed; `loadConfig` reads them from the environment. */
export interface AppConfig {
  amqpUrls: readonly string[];
  amqpHeartbeatS: number;
  amqpConnectTimeoutMs: number;
  amqpTls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  amqpAuth: 'plain' | 'external';
  rpcQueue: string;
  rpcQueueType: 'quorum' | 'classic' | 'transient';
  rpcTimeoutMs: number;
  rpcMaxInFlight: number;
  rpcReplyMode: 'queue' | 'direct';
  fibMaxN: number;
  workerPrefetch: number;
  port: number;
  workerHttpPort: number;
  logLevel: LogLevel;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'verbose';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'verbose'];

/** A variable that does not parse; the message is one line naming it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly variable: string,
    readonly value: string,
    expected: string,
  ) {
    super(`invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`);
  }
}

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
  rpcReplyMode: 'queue',
  fibMaxN: DEFAULT_FIB_MAX_N,
  workerPrefetch: 100,
  port: 3000,
  workerHttpPort: 3001,
  logLevel: 'info',
};

/** Reads and validates the whole configuration; throws ConfigError on the first bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const d = CONFIG_DEFAULTS;
  return {
    amqpUrls: raw(env, 'AMQP_URL') === undefined ? d.amqpUrls : (raw(env, 'AMQP_URL') as string).split(',').map((u) => url(env, 'AMQP_URL', u.trim())),
    amqpHeartbeatS: int(env, 'AMQP_HEARTBEAT_S', d.amqpHeartbeatS, 0, 3600),
    amqpConnectTimeoutMs: int(env, 'AMQP_CONNECT_TIMEOUT_MS', d.amqpConnectTimeoutMs, 100, 600_000),
    amqpTls: {},
    amqpAuth: oneOf(env, 'AMQP_AUTH', d.amqpAuth, ['plain', 'external'] as const),
    rpcQueue: queueName(env, 'RPC_QUEUE', d.rpcQueue),
    rpcQueueType: oneOf(env, 'RPC_QUEUE_TYPE', d.rpcQueueType, ['quorum', 'classic', 'transient'] as const),
    rpcTimeoutMs: int(env, 'RPC_TIMEOUT_MS', d.rpcTimeoutMs, 1, 2 ** 31 - 1),
    rpcMaxInFlight: int(env, 'RPC_MAX_IN_FLIGHT', d.rpcMaxInFlight, 1, 1_000_000),
    rpcReplyMode: oneOf(env, 'RPC_REPLY_MODE', d.rpcReplyMode, ['queue', 'direct'] as const),
    fibMaxN: int(env, 'FIB_MAX_N', d.fibMaxN, 0, 10_000_000),
    workerPrefetch: int(env, 'WORKER_PREFETCH', d.workerPrefetch, 1, 65_535),
    port: int(env, 'PORT', d.port, 0, 65_535),
    workerHttpPort: int(env, 'WORKER_HTTP_PORT', d.workerHttpPort, 0, 65_535),
    logLevel: oneOf(env, 'LOG_LEVEL', d.logLevel, LOG_LEVELS),
  };
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(name, value, `an integer from ${min} to ${max}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new ConfigError(name, value, `one of ${allowed.join(', ')}`);
  return value as T;
}

function url(env: Env, name: string, value: string): string {
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'amqp:' && protocol !== 'amqps:') throw new ConfigError(name, value, 'an amqp:// or amqps:// URL');
  return value;
}

function queueName(env: Env, name: string, fallback: string): string {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (Buffer.byteLength(value) > 255 || value.startsWith('amq.')) {
    throw new ConfigError(name, value, 'a queue name of at most 255 bytes, not starting with "amq."');
  }
  return value;
}
