import { ChannelModel, connect } from 'amqplib';
import { existsSync } from 'node:fs';
import { waitFor } from '../support/broker';
import { PrivateNode, processGroupMembers } from '../support/private-node';

/** Resolves with how `promise` settled, or 'pending' if it has not within `ms`. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<'resolved' | 'rejected' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => 'resolved' as const,
        () => 'rejected' as const,
      ),
      new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The private node the fault tests freeze, alarm and kill: it must really do what they rely on. */
describe('PrivateNode', () => {
  let node: PrivateNode;
  const connections: ChannelModel[] = [];

  async function open(): Promise<ChannelModel> {
    const connection = await connect(`${node.url}?heartbeat=0`, { noDelay: true });
    connection.on('error', () => undefined);
    connections.push(connection);
    return connection;
  }

  beforeAll(async () => {
    node = await PrivateNode.start({ name: `fibrpcpn${process.pid}` });
  }, 90_000);

  afterAll(async () => {
    for (const connection of connections) await connection.close().catch(() => undefined);
    await node?.stop();
  }, 60_000);

  it('boots a node of its own: own name and port, not the shared node', async () => {
    expect(node.port).not.toBe(5672);
    expect(node.nodeName).toBe(`fibrpcpn${process.pid}@localhost`);
    const status = JSON.parse(await node.ctl('status', '--formatter', 'json')) as {
      pid: number;
      listeners: { port: number }[];
    };
    expect(status.pid).toBe(node.pid);
    expect(status.listeners.map((listener) => listener.port)).toContain(node.port);
  });

  it('freeze stalls a round trip on an open connection; thaw lets it complete', async () => {
    const connection = await open();
    const channel = await connection.createChannel();
    node.freeze();
    const roundTrip = channel.checkExchange('amq.direct');
    try {
      expect(await settledWithin(roundTrip, 1_500)).toBe('pending');
    } finally {
      node.thaw();
    }
    expect(await settledWithin(roundTrip, 10_000)).toBe('resolved');
  }, 30_000);

  it('a memory alarm blocks a publishing connection, and clearing it unblocks it', async () => {
    const connection = await open();
    const events: string[] = [];
    connection.on('blocked', () => events.push('blocked'));
    connection.on('unblocked', () => events.push('unblocked'));
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });

    await node.memoryAlarm(true);
    try {
      // the broker blocks a connection when it publishes under an alarm
      channel.sendToQueue(queue, Buffer.from('x'));
      await waitFor(() => events.includes('blocked'), 15_000, "'blocked'");
    } finally {
      await node.memoryAlarm(false);
    }
    await waitFor(() => events.includes('unblocked'), 15_000, "'unblocked'");
    expect(events).toEqual(['blocked', 'unblocked']);
  }, 45_000);

  it('kill (SIGKILL) drops connections; restart brings it back on the same port', async () => {
    const connection = await open();
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    const pgid = node.pid as number;
    await node.kill();
    expect(node.running).toBe(false);
    expect(processGroupMembers(pgid)).toEqual([]);
    expect(await settledWithin(closed, 5_000)).toBe('resolved');

    await node.restart();
    const again = await open();
    const channel = await again.createChannel();
    await expect(channel.checkExchange('amq.direct')).resolves.toBeDefined();
  }, 90_000);

  it('stop leaves no process of the node and removes its directory', async () => {
    const pgid = node.pid as number;
    const dir = node.dir;
    for (const connection of connections.splice(0)) await connection.close().catch(() => undefined);
    await node.stop();
    expect(node.running).toBe(false);
    expect(processGroupMembers(pgid)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
