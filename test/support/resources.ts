import { createHook } from 'node:async_hooks';
import { sleep, waitFor } from './broker';
import { TcpProxy } from './tcp-proxy';

/** Kinds of process.getActiveResourcesInfo() that are sockets. */
const SOCKETS = ['TCPSocketWrap', 'TCPWRAP', 'TLSWrap'] as const;

/** Open sockets of this process, by kind. */
export function openSockets(): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(SOCKETS.map((kind) => [kind, 0]));
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind]++;
  return counts;
}

/** Sockets open now beyond those in `before`, by kind (one closing from an earlier test may be gone meanwhile). */
function extra(before: Record<string, number>): Record<string, number> {
  const now = openSockets();
  return Object.fromEntries(SOCKETS.map((kind) => [kind, Math.max(0, now[kind] - before[kind])]));
}

const NONE = Object.fromEntries(SOCKETS.map((kind) => [kind, 0]));

/** Code whose timers a broker client owns: ours and amqplib's. */
const CLIENT_CODE = /libs\/(rpc-client|runtime)\/|node_modules\/amqplib\//;

/**
 * Records every timer (ref'd or not: getActiveResourcesInfo() does not list
 * unref'd ones) created by the client's code from now on, until it fires for
 * the last time or is cleared.
 */
export function watchClientTimers(): { alive(): string[]; stop(): void } {
  const alive = new Map<number, string>();
  const hook = createHook({
    init(asyncId, type) {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 30;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      const where = stack.split('\n').find((line) => CLIENT_CODE.test(line));
      if (where !== undefined) alive.set(asyncId, where.trim());
    },
    destroy(asyncId) {
      alive.delete(asyncId);
    },
  }).enable();
  return { alive: () => [...alive.values()], stop: () => void hook.disable() };
}

/**
 * Asserts that a client reaching the broker only through `proxy` left nothing
 * behind: its connection closed (the proxy holds none), no more sockets than
 * `sockets` (taken before it started), none of its timers pending, and over
 * `quietMs` nothing reconnects or sends a byte.
 */
export async function expectNothingLeft(
  proxy: TcpProxy,
  sockets: Record<string, number>,
  timers: { alive(): string[] },
  quietMs = 1200,
): Promise<void> {
  await waitFor(() => proxy.connections === 0, 2000, 'the client connection to close').catch(() => undefined);
  expect({ openConnections: proxy.connections }).toEqual({ openConnections: 0 });
  // Sockets are released a turn or two after 'close'; wait for them, not for timers (a leaked one may fire meanwhile).
  const socketsBack = (): boolean => Object.values(extra(sockets)).every((n) => n === 0);
  await waitFor(socketsBack, 1000, 'sockets back to before').catch(() => undefined);
  expect({ extraSockets: extra(sockets), timers: timers.alive() }).toEqual({ extraSockets: NONE, timers: [] });
  const connections = proxy.traces.length;
  const sent = proxy.traces.reduce((sum, t) => sum + t.clientBytes, 0);
  await sleep(quietMs);
  expect({
    newConnections: proxy.traces.length - connections,
    bytesSent: proxy.traces.reduce((sum, t) => sum + t.clientBytes, 0) - sent,
    extraSockets: extra(sockets),
    timers: timers.alive(),
  }).toEqual({ newConnections: 0, bytesSent: 0, extraSockets: NONE, timers: [] });
}
