import type { ServerResponse } from 'node:http';

/**
 * A signal aborted when the connection closes before the answer is written:
 * the caller is gone, and its RPC call should free its slot now rather than at
 * its deadline. The response's 'close' is the event to use (unfinished = the
 * connection went first); the request's 'close' also fires once its body has
 * been read, so it cannot tell a caller that left.
 */
export function callerDisconnectSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.socket === null || response.socket.destroyed) {
    controller.abort();
  } else {
    response.once('close', () => {
      if (!response.writableEnded) controller.abort();
    });
  }
  return controller.signal;
}
