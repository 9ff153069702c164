import { BrokerLinkOptions, describeError } from '@app/runtime';
import { InvalidOptionsError } from './errors';
import { MAX_TIMEOUT_MS, RPC_CLIENT_DEFAULTS } from './rpc-client.constants';
import { RpcClientOptions } from './rpc-client.interfaces';

/** The options a client runs with: the defaults under what was given. */
export type ResolvedRpcClientOptions = typeof RPC_CLIENT_DEFAULTS & RpcClientOptions;

/** The defaults under the given options, each bound checked: a bad value throws INVALID_OPTIONS at construction. */
export function resolveOptions(options: RpcClientOptions): ResolvedRpcClientOptions {
  const resolved = { ...RPC_CLIENT_DEFAULTS, ...withoutUndefined(options) };
  const { queue } = resolved;
  checkInteger(queue, 'timeoutMs', resolved.timeoutMs, 1, MAX_TIMEOUT_MS);
  checkInteger(queue, 'maxInFlight', resolved.maxInFlight, 1, 10_000_000);
  checkInteger(queue, 'consumerCheckIntervalMs', resolved.consumerCheckIntervalMs, 1, MAX_TIMEOUT_MS);
  checkInteger(queue, 'consumerCheckTimeoutMs', resolved.consumerCheckTimeoutMs, 1, MAX_TIMEOUT_MS);
  checkInteger(queue, 'maxResends', resolved.maxResends, 0, 100);
  checkInteger(queue, 'confirmTimeoutMs', resolved.confirmTimeoutMs, 0, MAX_TIMEOUT_MS);
  checkInteger(queue, 'failoverHoldMs', resolved.failoverHoldMs, 0, MAX_TIMEOUT_MS);
  return resolved;
}

/** What the broker link connects with: the node list (one `url` by default), credentials, timeouts, backoff. */
export function connectSettings(
  options: ResolvedRpcClientOptions,
): Pick<
  BrokerLinkOptions<unknown>,
  'urls' | 'connectionName' | 'heartbeatS' | 'connectTimeoutMs' | 'reconnectDelayMs' | 'tls' | 'auth'
> {
  return {
    urls: options.urls ?? [options.url],
    connectionName: options.connectionName,
    heartbeatS: options.heartbeatS,
    connectTimeoutMs: options.connectTimeoutMs,
    reconnectDelayMs: options.reconnectDelayMs,
    tls: options.tls,
    auth: options.auth,
  };
}

/** A per-call timeout out of bounds refuses that call only (INVALID_OPTIONS), so it is returned, not thrown. */
export function callTimeoutError(queue: string, timeoutMs: number): InvalidOptionsError | undefined {
  return integerError(queue, 'timeoutMs', timeoutMs, 1, MAX_TIMEOUT_MS);
}

/** One clear line for a broker that refuses this client's set-up, naming the permission it lacks. */
export function explainRefusal(error: unknown, replyMode: 'queue' | 'direct'): string | undefined {
  // The server-named queue differs at every attempt: without its name, a refusal that repeats is one cause (logged once).
  const text = describeError(error).replace(/amq\.gen-[A-Za-z0-9_-]+/g, 'amq.gen-…');
  if (!/ACCESS_REFUSED|403/.test(text)) return undefined;
  // RabbitMQ's 403 text names the resource, not the permission: the refused method tells which.
  const lacks = /QueueDeclare/.test(text)
    ? 'configure on its server-named reply queue'
    : /BasicConsume/.test(text)
      ? 'read on its server-named reply queue'
      : /exchange 'amq\.default'/.test(text)
        ? 'write on the default exchange (to publish requests)'
        : undefined;
  // direct reply-to declares nothing and its pseudo-queue needs no permission
  const needed =
    replyMode === 'direct'
      ? "write '^amq\\.default$' (configure and read may be empty)"
      : "configure '^amq\\.gen-.*$' write '^amq\\.default$' read '^amq\\.gen-.*$'";
  return `access refused (${text}): ${lacks === undefined ? '' : `the gateway's broker user lacks ${lacks}; `}its permissions should be ${needed}`;
}

function checkInteger(queue: string, option: string, value: number, min: number, max: number): void {
  const error = integerError(queue, option, value, min, max);
  if (error !== undefined) throw error;
}

function integerError(
  queue: string,
  option: string,
  value: number,
  min: number,
  max: number,
): InvalidOptionsError | undefined {
  if (Number.isInteger(value) && value >= min && value <= max) return undefined;
  return new InvalidOptionsError(queue, option, value, `an integer from ${min} to ${max}`);
}

/** An option given as undefined keeps its default. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
