import { RpcClient } from '@app/rpc-client';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ChannelModel } from 'amqplib';
import { connect, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  HEADERS_TIMEOUT_MS,
  MAX_REQUEST_HEAD_BYTES,
  MAX_URL_BYTES,
  TIMEOUT_CHECK_INTERVAL_MS,
} from '../../apps/gateway/src/http/http-server.constants';
import { deleteQueues, openBroker, sleep, uniqueQueue, waitFor, TEST_QUEUE_OPTIONS } from '../support/broker';
import { startGateway } from '../support/apps';
import { JsonBody } from '../support/http';

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: JsonBody;
  /** Bytes of the body as sent: small whatever the request was. */
  bodyBytes: number;
}

/**
 * One TCP connection speaking HTTP/1.1 by hand: supertest and fetch cannot
 * send a 1 MB URL, a request without Host, garbage or a request one byte at a
 * time. Answers are read by Content-Length; every wait is bounded.
 */
class RawConnection {
  readonly openedAt = Date.now();
  /** ms from connect to the server closing the connection. */
  readonly closed: Promise<number>;
  private buffer = Buffer.alloc(0);
  private readonly socket: Socket;
  private wake: () => void = () => undefined;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    // A reset after the server answered and closed (it stops reading a 1 MB URL) is how such a connection ends.
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.wake();
        resolve(Date.now() - this.openedAt);
      }),
    );
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  /** Writes `chunks`, `gapMs` apart, stopping if the server closed the connection. */
  async send(chunks: string[], gapMs = 0): Promise<void> {
    for (const chunk of chunks) {
      if (this.socket.destroyed || this.socket.writableEnded) return;
      this.socket.write(chunk);
      if (gapMs > 0) await sleep(gapMs);
    }
  }

  /** The next complete answer on this connection. */
  async answer(limitMs = 5_000): Promise<RawAnswer> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const parsed = this.take();
      if (parsed !== undefined) return parsed;
      if (this.socket.destroyed) throw new Error(`connection closed without a complete answer: ${this.text()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete answer within ${limitMs} ms: ${this.text()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** ms until the server closes the connection, failing after `limitMs`. */
  async closedWithin(limitMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${limitMs} ms`)), limitMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private text(): string {
    return JSON.stringify(this.buffer.subarray(0, 200).toString('latin1'));
  }

  private take(): RawAnswer | undefined {
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd === -1) return undefined;
    const [statusLine, ...lines] = this.buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    const bodyStart = headEnd + 4;
    if (!Number.isInteger(length) || this.buffer.length < bodyStart + length) return undefined;
    const text = this.buffer.subarray(bodyStart, bodyStart + length).toString('utf8');
    const body = (headers['content-type']?.startsWith('application/json') ? JSON.parse(text) : { text }) as JsonBody;
    this.buffer = this.buffer.subarray(bodyStart + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body, bodyBytes: length };
  }
}

function get(target: string, headers: string[] = ['X-Request-Id: limits-1']): string {
  return `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`;
}

/** Nest's error shape and nothing else: `error` names the status, the message is short. */
function expectNestError(answer: RawAnswer, statusCode: number, error: string): void {
  expect(answer.status).toBe(statusCode);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.body).toEqual({ statusCode, error, message: expect.any(String) as string });
  expect((answer.body.message as string).length).toBeLessThan(150);
  expect(answer.bodyBytes).toBeLessThan(250);
}

/**
 * Requests Fastify's routes never see, or sees mangled (contract, "HTTP
 * (gateway)"; issue 8 defect 8, issue 12 item 4): odd and oversize URLs,
 * oversize headers, malformed HTTP, slow clients. Each is answered in Nest's
 * error shape with an X-Request-Id, or cut off in bounded time, without
 * hurting normal requests.
 */
describe('gateway HTTP limits (e2e)', () => {
  const queue = uniqueQueue('httplimits');
  let gateway: NestFastifyApplication;
  let port: number;
  const open: RawConnection[] = [];
  const connection = (): RawConnection => {
    const raw = new RawConnection(port);
    open.push(raw);
    return raw;
  };

  beforeAll(async () => {
    // No worker: none of these requests may reach one.
    gateway = await startGateway(queue);
    await gateway.listen(0, '127.0.0.1');
    port = (gateway.getHttpServer().address() as AddressInfo).port;
  });

  afterEach(() => {
    for (const raw of open.splice(0)) raw.destroy();
  });

  afterAll(async () => {
    await gateway.close();
  });

  describe('odd URLs → 400 in Nest shape with the caller’s X-Request-Id', () => {
    it.each([
      ['malformed percent-encoding', '/fib/%ZZ'],
      ['10 001 digits (over the router’s segment limit)', `/fib/${'9'.repeat(10_001)}`],
      ['20 000 digits (over the URL limit, under the head limit)', `/fib/${'9'.repeat(20_000)}`],
      ['a URL just over the URL limit', `/fib/${'1'.repeat(MAX_URL_BYTES)}`],
    ])('%s', async (_label, target) => {
      const raw = connection();
      await raw.send([get(target)]);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.headers['x-request-id']).toBe('limits-1');
    });

    it('8 000 digits (within the URL limit) → the pipe’s 400, the input not echoed', async () => {
      const raw = connection();
      await raw.send([get(`/fib/${'9'.repeat(8_000)}`)]);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.body.message).toMatch(/^n must be at most/);
      expect(answer.headers['x-request-id']).toBe('limits-1');
    });

    it('an X-Request-Id that is not a sane token is replaced by a new one', async () => {
      const raw = connection();
      await raw.send([get('/fib/%ZZ', [`X-Request-Id: ${'x'.repeat(200)}`])]);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.headers['x-request-id']).toMatch(UUID);
    });
  });

  describe('request heads Node’s parser refuses', () => {
    it('a 1 MB URL → 400 (not 431), a new X-Request-Id, connection closed', async () => {
      const raw = connection();
      await raw.send([get(`/fib/${'9'.repeat(1 << 20)}`)]);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.headers['x-request-id']).toMatch(UUID);
      expect(answer.headers.connection).toBe('close');
      await raw.closedWithin(2_000);
    });

    it('a 40 KB URL arriving in 1 KB pieces → 400', async () => {
      const raw = connection();
      const request = get(`/fib/${'9'.repeat(40_000)}`);
      const pieces = Array.from({ length: Math.ceil(request.length / 1024) }, (_, i) =>
        request.slice(i * 1024, (i + 1) * 1024),
      );
      await raw.send(pieces, 2);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.headers.connection).toBe('close');
    });

    it('one header of 30 KB → 431 with the caller’s X-Request-Id, connection closed', async () => {
      const raw = connection();
      await raw.send([get('/fib/30', ['X-Request-Id: big-header-1', `X-Big: ${'a'.repeat(30_000)}`])]);
      const answer = await raw.answer();
      expectNestError(answer, 431, 'Request Header Fields Too Large');
      expect(answer.headers['x-request-id']).toBe('big-header-1');
      expect(answer.headers.connection).toBe('close');
      await raw.closedWithin(2_000);
    });

    it('2 000 small headers → 431', async () => {
      const raw = connection();
      const many = Array.from({ length: 2_000 }, (_, i) => `X-Header-${i}: value`);
      await raw.send([get('/fib/30', ['X-Request-Id: many-headers-1', ...many])]);
      const answer = await raw.answer();
      expectNestError(answer, 431, 'Request Header Fields Too Large');
      expect(answer.headers['x-request-id']).toBe('many-headers-1');
    });

    it('a URL at the limit with 15 KB of headers is still served (by the route: its own 400)', async () => {
      const raw = connection();
      const target = `/fib/${'9'.repeat(MAX_URL_BYTES - '/fib/'.length)}`;
      expect(target.length + 15_000).toBeLessThan(MAX_REQUEST_HEAD_BYTES);
      await raw.send([get(target, ['X-Request-Id: near-limit-1', `X-Pad: ${'p'.repeat(15_000)}`])]);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.body.message).toMatch(/^n must be at most/);
      expect(answer.headers['x-request-id']).toBe('near-limit-1');
    });

    it('malformed HTTP → 400 with a new X-Request-Id, connection closed', async () => {
      const raw = connection();
      await raw.send(['NOT HTTP AT ALL\r\n\r\n']);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.headers['x-request-id']).toMatch(UUID);
      await raw.closedWithin(2_000);
    });

    it('HTTP/1.1 without Host → 400 in Nest shape with the caller’s X-Request-Id', async () => {
      const raw = connection();
      await raw.send(['GET /fib/30 HTTP/1.1\r\nX-Request-Id: no-host-1\r\n\r\n']);
      const answer = await raw.answer();
      expectNestError(answer, 400, 'Bad Request');
      expect(answer.headers['x-request-id']).toBe('no-host-1');
    });
  });

  describe('slow clients', () => {
    // Node checks its timeouts every TIMEOUT_CHECK_INTERVAL_MS; allow two checks and a second of scheduling.
    const cutOffBy = HEADERS_TIMEOUT_MS + 2 * TIMEOUT_CHECK_INTERVAL_MS + 1_000;

    it('a client sending its headers one byte per second is answered 408 and cut off; others are served meanwhile', async () => {
      const slowloris = connection();
      const request = get('/fib/30', ['X-Request-Id: slowloris-1', `X-Pad: ${'p'.repeat(100)}`]);
      const dripping = slowloris.send(Array.from(request), 1_000);
      const silent = connection();

      // A keep-alive client idle for longer than the headers timeout between two requests is not cut off.
      const keepAlive = connection();
      await keepAlive.send([get('/metrics', [])]);
      expect((await keepAlive.answer()).status).toBe(200);

      // Normal requests on other connections are answered at once while the slow ones hang on.
      for (let i = 0; i < 3; i++) {
        await sleep(HEADERS_TIMEOUT_MS / 4);
        const normal = connection();
        await normal.send([get('/fib/abc')]);
        const started = Date.now();
        expect((await normal.answer(1_000)).status).toBe(400);
        expect(Date.now() - started).toBeLessThan(1_000);
      }

      const answer = await slowloris.answer(cutOffBy);
      expectNestError(answer, 408, 'Request Timeout');
      const slowClosedAfter = await slowloris.closedWithin(cutOffBy);
      expect(slowClosedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(slowClosedAfter).toBeLessThan(cutOffBy);
      await dripping;

      // A connection that never sends a byte gets the same bound.
      const silentClosedAfter = await silent.closedWithin(cutOffBy);
      expect(silentClosedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(silentClosedAfter).toBeLessThan(cutOffBy);

      expect(keepAlive.isClosed).toBe(false);
      await keepAlive.send([get('/metrics', [])]);
      expect((await keepAlive.answer()).status).toBe(200);
    }, 30_000);
  });

  describe('while the gateway closes', () => {
    const drainQueue = uniqueQueue('httpdrain');
    let broker: ChannelModel;
    let draining: NestFastifyApplication;
    let drainingPort: number;

    beforeAll(async () => {
      // A worker that never answers keeps one call, and so its connection, busy while the gateway closes.
      broker = await openBroker();
      const channel = await broker.createChannel();
      await channel.assertQueue(drainQueue, TEST_QUEUE_OPTIONS);
      await channel.consume(drainQueue, () => undefined);
      draining = await startGateway(drainQueue, { rpcTimeoutMs: 1500 });
      await draining.listen(0, '127.0.0.1');
      drainingPort = (draining.getHttpServer().address() as AddressInfo).port;
    });

    afterAll(async () => {
      await draining.close();
      await broker.close();
      await deleteQueues(drainQueue);
    });

    it('a request arriving then is 503 in Nest shape with X-Request-Id, Retry-After and Connection: close', async () => {
      const raw = new RawConnection(drainingPort);
      try {
        await raw.send([get('/fib/1', ['X-Request-Id: before-close'])]);
        await waitFor(() => draining.get(RpcClient).pendingCount === 1, 2000, 'the first call pending');
        const closed = draining.close();
        await sleep(100);
        await raw.send([get('/fib/2', ['X-Request-Id: during-close'])]);
        const first = await raw.answer();
        expect(first.status).toBe(504);
        expect(first.headers['x-request-id']).toBe('before-close');
        const second = await raw.answer();
        expectNestError(second, 503, 'Service Unavailable');
        expect(second.headers['x-request-id']).toBe('during-close');
        expect(second.headers['retry-after']).toBe('1');
        expect(second.headers.connection).toBe('close');
        await raw.closedWithin(2_000);
        await closed;
      } finally {
        raw.destroy();
      }
    });
  });
});
