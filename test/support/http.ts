import { request } from 'node:http';

/** A JSON body, loosely typed for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonBody = Record<string, any>;

export interface HttpAnswer {
  status: number;
  body: JsonBody;
  headers: Headers;
  ms: number;
}

/** GET with a hard client-side limit, so a hung answer fails the test instead of hanging it. */
export async function httpGet(url: string, limitMs = 15_000): Promise<HttpAnswer> {
  const started = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(limitMs) });
  const text = await res.text();
  let body: JsonBody;
  try {
    body = JSON.parse(text) as JsonBody;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers, ms: Date.now() - started };
}

/** Tallies answers by status (and error code), e.g. { '200': 3, '503 CONNECTION_LOST': 2 }. */
export function tally(answers: HttpAnswer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status, body } of answers) {
    const key = typeof body.code === 'string' ? `${status} ${body.code}` : String(status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * GET on a connection of its own (no keep-alive pool), so "does the server
 * still accept connections" is what is asked. Resolves with the status, or
 * rejects with the socket error (e.g. ECONNREFUSED).
 */
export function httpGetOnNewConnection(url: string, limitMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: limitMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${limitMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
