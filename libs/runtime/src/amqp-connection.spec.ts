import { AddressInfo, createServer, Socket } from 'node:net';
import { backoffDelayMs, connectAmqp, ConnectTimeoutError } from './amqp-connection';
import { redactUrl } from './amqp-url';

describe('backoffDelayMs', () => {
  it('doubles from min and is capped at max', () => {
    const range = [100, 5000] as const;
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** attempt);
      const delay = backoffDelayMs(attempt, range);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe('redactUrl', () => {
  it('hides the password', () => {
    expect(redactUrl('amqp://guest:secret@host:5672/vh')).toBe('amqp://guest:***@host:5672/vh');
    expect(redactUrl('amqp://host')).toBe('amqp://host');
  });
});

describe('connectAmqp', () => {
  it('abandons a handshake that never completes after connectTimeoutMs (defect 5)', async () => {
    // Accepts TCP and then says nothing, like a frozen broker node.
    const sockets = new Set<Socket>();
    const closed = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => closed.add(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const startedAt = Date.now();
    try {
      const error = await connectAmqp(`amqp://guest:guest@127.0.0.1:${port}`, {
        connectionName: 'test',
        heartbeatS: 5,
        connectTimeoutMs: 300,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConnectTimeoutError);
      expect(Date.now() - startedAt).toBeLessThan(2000);
      // the abandoned socket is closed by the client, not left open
      expect(sockets.size).toBe(1);
      await waitUntil(() => closed.size === sockets.size);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

async function waitUntil(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
