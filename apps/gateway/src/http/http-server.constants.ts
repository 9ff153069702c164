/**
 * Limits of the gateway's HTTP server. Every phase of a connection is bounded,
 * so a client that is slow on purpose holds a socket for seconds, not forever:
 * the request head by HEADERS_TIMEOUT_MS, the handler by RPC_TIMEOUT_MS (plus
 * SOCKET_IDLE_GRACE_MS of socket silence), the idle time between keep-alive
 * requests by KEEP_ALIVE_TIMEOUT_MS.
 */

/**
 * Longest URL (request target) answered with anything but 400. 8 KiB, like
 * nginx's and Apache's request-line limits; `/fib/{n}` needs ~20 bytes.
 */
export const MAX_URL_BYTES = 8 * 1024;

/**
 * Node's `maxHeaderSize`: request line and headers together. A URL at the
 * limit above still leaves 16 KiB (Node's default for the whole head) for
 * headers. Over it: 400 if the request line is what is too long, else 431
 * (see client-error.handler.ts).
 */
export const MAX_REQUEST_HEAD_BYTES = MAX_URL_BYTES + 16 * 1024;

/**
 * Time from a request's first byte (or a new connection) to the end of its
 * headers; a client dripping its headers (slowloris) is answered 408 and cut
 * off. A real client sends the few hundred bytes of a GET in one round trip;
 * 10 s leaves room for a very slow mobile link. Node's default is 60 s.
 */
export const HEADERS_TIMEOUT_MS = 10_000;

/**
 * Time to receive a whole request. The gateway takes no request bodies, so this
 * equals HEADERS_TIMEOUT_MS (Node requires headers ≤ request timeout).
 */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * How often Node checks the two timeouts above. Its default, 30 s, would let a
 * slow client run up to 40 s past a 10 s timeout; the check walks only the list
 * of connections still receiving a request.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * Idle time allowed between two requests on one connection. Longer than the
 * 60 s idle timeout of common proxies and load balancers (nginx upstream
 * keep-alive, AWS ALB), so the proxy never sends a request on a connection the
 * gateway is closing (a 502 there). Fastify's default; Node's is 5 s.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Socket silence allowed while a request is being answered, on top of the RPC
 * deadline (the socket is silent both ways while the call waits for its reply):
 * Fastify's `connectionTimeout` is RPC_TIMEOUT_MS + this. It cuts off a client
 * that stops reading its answers while pipelining more requests.
 */
export const SOCKET_IDLE_GRACE_MS = 10_000;
