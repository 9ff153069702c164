import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';

/** One signal per connection, made by its first /fib request. */
const signals = new WeakMap<Socket, AbortSignal>();

/**
 * A signal aborted when the caller's connection closes: a caller that left
 * frees its RPC calls' slots now rather than at their deadlines. The socket's
 * 'close' is the event to use: a pipelined request's response has no socket
 * until the answers before it are written, so `response.socket` being null
 * does not mean the caller left; and the request's own 'close' also fires
 * once its body has been read. One signal serves every request of a
 * connection (keep-alive, pipelined): no AbortController or listener per
 * request; each call removes its abort listener when it settles.
 */
export function callerDisconnectSignal(socket: Socket): AbortSignal {
  let signal = signals.get(socket);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    // Every call in flight on the connection listens (pipelining): not a leak.
    setMaxListeners(0, signal);
    if (socket.destroyed) controller.abort();
    else socket.once('close', () => controller.abort());
    signals.set(socket, signal);
  }
  return signal;
}
