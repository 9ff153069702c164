import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { sleep, waitFor } from './broker';
import { TcpProxy } from './tcp-proxy';

/** A server that sends `greeting` in one write to every connection and records what it receives. */
async function startSender(greeting: Buffer): Promise<{ server: Server; port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received };
}

/** Connects through the proxy; collects bytes and how the connection ended. */
function connectThrough(proxy: TcpProxy): { socket: Socket; bytes: () => number; ended: Promise<string> } {
  const socket = new Socket();
  let count = 0;
  socket.on('data', (chunk: Buffer) => (count += chunk.length));
  const ended = new Promise<string>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    socket.on('close', () => resolve('closed'));
  });
  socket.connect(proxy.port, '127.0.0.1');
  return { socket, bytes: () => count, ended };
}

describe('TcpProxy', () => {
  const greeting = Buffer.alloc(1000, 7);
  let sender: Awaited<ReturnType<typeof startSender>>;
  let proxy: TcpProxy;

  beforeAll(async () => {
    sender = await startSender(greeting);
  });

  beforeEach(async () => {
    proxy = await TcpProxy.start(sender.port);
  });

  afterEach(async () => {
    await proxy.cut();
  });

  afterAll(() => new Promise<void>((resolve) => sender.server.close(() => resolve())));

  it('resets the next K connections after exactly B bytes of one chunk, then passes traffic through', async () => {
    proxy.resetAfterServerBytes(321, 2);
    for (let i = 0; i < 2; i++) {
      const peer = connectThrough(proxy);
      await expect(peer.ended).resolves.toBe('ECONNRESET');
      expect(peer.bytes()).toBe(321);
    }
    const third = connectThrough(proxy);
    await waitFor(() => third.bytes() === 1000, 2000, 'the whole greeting');
    third.socket.destroy();
    expect(proxy.traces.map((t) => [t.serverBytes, t.faultedAt !== undefined])).toEqual([
      [321, true],
      [321, true],
      [1000, false],
    ]);
  });

  it('resets after the client has sent B bytes, forwarding exactly those', async () => {
    proxy.faultNext({ afterClientBytes: 5 });
    const peer = connectThrough(proxy);
    await waitFor(() => peer.bytes() === 1000, 2000, 'the greeting');
    const before = Buffer.concat(sender.received).length;
    peer.socket.write(Buffer.from('0123456789'));
    await expect(peer.ended).resolves.toBe('ECONNRESET');
    expect(Buffer.concat(sender.received).subarray(before).toString()).toBe('01234');
  });

  it('freezes after B bytes with both sockets open, and forwards the rest on thaw', async () => {
    proxy.freezeAfterServerBytes(600);
    const peer = connectThrough(proxy);
    await waitFor(() => peer.bytes() === 600, 2000, '600 bytes');
    const sentBefore = Buffer.concat(sender.received).length;
    peer.socket.write(Buffer.from('held'));
    await sleep(100);
    expect({ bytes: peer.bytes(), open: proxy.connections, toServer: Buffer.concat(sender.received).length }).toEqual({
      bytes: 600,
      open: 1,
      toServer: sentBefore,
    });
    expect(proxy.heldBytes(1, 'client')).toBe(4);
    proxy.thaw();
    await waitFor(() => peer.bytes() === 1000, 2000, 'the rest after thaw');
    await waitFor(() => Buffer.concat(sender.received).subarray(sentBefore).toString() === 'held', 2000, 'held bytes');
    peer.socket.destroy();
  });

  it('freeze() stops every connection, new ones too, until thaw()', async () => {
    proxy.freeze();
    const peer = connectThrough(proxy);
    await sleep(100);
    expect(peer.bytes()).toBe(0);
    proxy.thaw();
    await waitFor(() => peer.bytes() === 1000, 2000, 'the greeting after thaw');
    peer.socket.destroy();
  });
});
