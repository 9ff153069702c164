import { ChannelModel, ConfirmChannel, connect } from 'amqplib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateNode } from '../support/private-node';

const root = join(__dirname, '../..');
const users = {
  admin: { user: 'admin', password: 'admin-pw' },
  gateway: { user: 'fib-gateway', password: 'gateway-pw' },
  worker: { user: 'fib-worker', password: 'worker-pw' },
};

/**
 * The broker definitions docker-compose.yml loads (docker/rabbitmq: start.sh writes them, 30-fib-rpc.conf
 * loads them at boot), on a real broker: each app's user can do exactly what that app does, and no more.
 */
describe('compose broker definitions on a real broker', () => {
  let node: PrivateNode;
  let dir: string;
  const connections: ChannelModel[] = [];

  async function channelAs(who: keyof typeof users): Promise<ConfirmChannel> {
    const { user, password } = users[who];
    const connection = await connect({ hostname: '127.0.0.1', port: node.port, username: user, password });
    connection.on('error', () => undefined);
    connections.push(connection);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fib-rpc-definitions-'));
    const definitions = join(dir, 'definitions.json');
    execFileSync('bash', [join(root, 'docker/rabbitmq/start.sh')], {
      env: {
        PATH: process.env.PATH ?? '',
        RABBITMQ_ADMIN_USER: users.admin.user,
        RABBITMQ_ADMIN_PASSWORD: users.admin.password,
        GATEWAY_AMQP_USER: users.gateway.user,
        GATEWAY_AMQP_PASSWORD: users.gateway.password,
        WORKER_AMQP_USER: users.worker.user,
        WORKER_AMQP_PASSWORD: users.worker.password,
        FIB_RPC_DEFINITIONS_FILE: definitions,
      },
    });
    const config = readFileSync(join(root, 'docker/rabbitmq/30-fib-rpc.conf'), 'utf8').replace(
      '/etc/rabbitmq/definitions.json',
      definitions,
    );
    node = await PrivateNode.start({
      name: `fibrpcdefs${process.pid}`,
      config,
      credentials: { username: users.admin.user, password: users.admin.password },
    });
  }, 120_000);

  afterAll(async () => {
    for (const connection of connections) await connection.close().catch(() => undefined);
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('loads the users (no guest) and rpc_queue as a durable quorum queue at boot', async () => {
    const listed = JSON.parse(await node.ctl('list_users', '--formatter', 'json')) as { user: string }[];
    expect(listed.map((entry) => entry.user).sort()).toEqual(['admin', 'fib-gateway', 'fib-worker']);
    const queues = JSON.parse(await node.ctl('list_queues', 'name', 'type', 'durable', '--formatter', 'json')) as {
      name: string;
      type: string;
      durable: boolean;
    }[];
    expect(queues).toEqual([{ name: 'rpc_queue', type: 'quorum', durable: true }]);
  });

  it('the worker user can adopt or declare rpc_queue, consume it and publish replies', async () => {
    const channel = await channelAs('worker');
    await expect(channel.checkQueue('rpc_queue')).resolves.toMatchObject({ queue: 'rpc_queue' });
    await channel.assertQueue('rpc_queue', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const { consumerTag } = await channel.consume('rpc_queue', () => undefined);
    await channel.cancel(consumerTag);
    channel.sendToQueue('amq.gen-nobody', Buffer.from('reply'));
    await channel.waitForConfirms();
  });

  it('the worker user may not declare another queue', async () => {
    const channel = await channelAs('worker');
    await expect(channel.assertQueue('not-rpc_queue', { durable: true })).rejects.toMatchObject({ code: 403 });
  });

  it('the gateway user can publish requests, use its reply queues and check the consumers', async () => {
    const channel = await channelAs('gateway');
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    expect(queue).toMatch(/^amq\.gen-/);
    await channel.consume(queue, () => undefined, { noAck: true });
    await channel.consume('amq.rabbitmq.reply-to', () => undefined, { noAck: true });
    await expect(channel.checkQueue('rpc_queue')).resolves.toMatchObject({ queue: 'rpc_queue' });
    channel.sendToQueue('rpc_queue', Buffer.from('10'), { replyTo: queue, correlationId: 'c1' });
    await channel.waitForConfirms();
  });

  it('the gateway user may not consume requests nor (re)declare rpc_queue', async () => {
    const consumer = await channelAs('gateway');
    await expect(consumer.consume('rpc_queue', () => undefined)).rejects.toMatchObject({ code: 403 });
    const declarer = await channelAs('gateway');
    await expect(
      declarer.assertQueue('rpc_queue', { durable: true, arguments: { 'x-queue-type': 'quorum' } }),
    ).rejects.toMatchObject({ code: 403 });
  });
});
