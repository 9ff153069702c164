import { RpcClient } from '@app/rpc-client';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ChannelModel } from 'amqplib';
import { AddressInfo, connect, Socket } from 'node:net';
import { deleteQueues, openBroker, TEST_QUEUE_OPTIONS, uniqueQueue, waitFor } from '../support/broker';
import { startGateway, startWorker } from '../support/apps';
import { sample } from '../support/metrics';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses every complete HTTP/1.1 response (Content-Length framed) at the start of `data`. */
function parseAnswers(data: Buffer): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let at = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd === -1) return answers;
    const [statusLine, ...lines] = data.toString('latin1', at, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (data.length < headEnd + 4 + length) return answers;
    answers.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: data.toString('utf8', headEnd + 4, headEnd + 4 + length),
    });
    at = headEnd + 4 + length;
  }
}

/** `GET /fib/<n>` with X-Request-Id `id`, as a pipelining client writes it. */
const get = (n: number, id: string): string =>
  `GET /fib/${n} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ${id}\r\n\r\n`;

/** A raw connection to `port` that keeps every byte it receives. */
async function rawConnection(port: number): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, received: () => Buffer.concat(chunks) };
}

const portOf = (app: NestFastifyApplication): number => (app.getHttpServer().address() as AddressInfo).port;

async function metricsOf(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

/**
 * HTTP/1.1 pipelining (RFC 9112 §9.3): several requests written at once on one
 * connection are answered in order, each in full. A response queued behind
 * another has no socket of its own yet; that does not mean its caller left.
 */
describe('gateway with pipelined HTTP/1.1 requests (e2e)', () => {
  describe('a worker answering', () => {
    const queue = uniqueQueue('pipelining');
    let worker: NestFastifyApplication;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      worker = (await startWorker(queue)).app;
      gateway = await startGateway(queue);
      await gateway.listen(0, '127.0.0.1');
    });

    afterAll(async () => {
      await gateway.close();
      await worker.close();
      await deleteQueues(queue);
    });

    it('answers three requests written in one write, in order, each with its X-Request-Id', async () => {
      const port = portOf(gateway);
      const before = await metricsOf(port);
      const { socket, received } = await rawConnection(port);
      try {
        socket.write(get(10, 'pipe-1') + get(20, 'pipe-2') + get(30, 'pipe-3'));
        await waitFor(() => parseAnswers(received()).length >= 3 || socket.destroyed, 5000, 'three answers');
        const answers = parseAnswers(received());
        expect(answers.map((a) => [a.status, a.headers['x-request-id'], JSON.parse(a.body) as unknown])).toEqual([
          [200, 'pipe-1', { n: 10, value: '55' }],
          [200, 'pipe-2', { n: 20, value: '6765' }],
          [200, 'pipe-3', { n: 30, value: '832040' }],
        ]);
        // The connection stays usable: a fourth request on it is answered too.
        socket.write(get(5, 'pipe-4'));
        await waitFor(() => parseAnswers(received()).length >= 4 || socket.destroyed, 5000, 'the fourth answer');
        expect(parseAnswers(received())[3]).toMatchObject({ status: 200, headers: { 'x-request-id': 'pipe-4' } });
        expect(socket.destroyed).toBe(false);
      } finally {
        socket.destroy();
      }
      const after = await metricsOf(port);
      const delta = (series: string): number => sample(after, series) - sample(before, series);
      expect(delta('fib_gateway_rpc_calls_total{outcome="ok"}')).toBe(4);
      expect(delta('fib_gateway_rpc_calls_total{outcome="CANCELLED"}')).toBe(0);
    });
  });

  describe('a worker that never answers', () => {
    const queue = uniqueQueue('pipelining-cancel');
    let broker: ChannelModel;
    let deliveries = 0;
    let gateway: NestFastifyApplication;

    beforeAll(async () => {
      broker = await openBroker();
      const channel = await broker.createChannel();
      await channel.assertQueue(queue, TEST_QUEUE_OPTIONS);
      await channel.consume(queue, () => void deliveries++);
      gateway = await startGateway(queue, { rpcTimeoutMs: 5000 });
      await gateway.listen(0, '127.0.0.1');
    });

    afterAll(async () => {
      await gateway.close();
      await broker.close();
      await deleteQueues(queue);
    });

    it('keeps every pipelined call pending while the caller is there, and cancels them all when it leaves', async () => {
      const port = portOf(gateway);
      const client = gateway.get(RpcClient);
      const before = await metricsOf(port);
      const { socket } = await rawConnection(port);
      try {
        socket.write(get(1, 'held-1') + get(2, 'held-2') + get(3, 'held-3'));
        await waitFor(() => deliveries === 3, 2000, 'three requests delivered to the silent worker');
        expect(client.pendingCount).toBe(3);
      } finally {
        socket.destroy();
      }
      // Well before the 5 s deadline.
      await waitFor(() => client.pendingCount === 0, 1000, 'the cancelled calls to leave the pending map');
      const after = await metricsOf(port);
      expect(
        sample(after, 'fib_gateway_rpc_calls_total{outcome="CANCELLED"}') -
          sample(before, 'fib_gateway_rpc_calls_total{outcome="CANCELLED"}'),
      ).toBe(3);
    });
  });
});
