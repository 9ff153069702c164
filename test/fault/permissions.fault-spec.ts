import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AppProcess } from '../support/app-process';
import { AMQP_URL, waitFor } from '../support/broker';
import { httpGet } from '../support/http';

/**
 * Least privilege on the shared local broker, with vhosts and users of this file's own (created here,
 * deleted in afterAll even on failure; no existing vhost or user is touched): the built apps, each as its
 * own user with exactly the README's permissions, per RPC_QUEUE_TYPE; and with one permission less,
 * one clear line quoting the broker's refusal, 503, still alive and retrying, and working once the
 * permission is granted (no restart).
 */

const RABBITMQCTL = process.env.RABBITMQCTL ?? 'rabbitmqctl';
const QUEUE = 'rpc_queue';
const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
const users = {
  worker: { name: `fib-rpc-test-worker-${tag}`, password: randomBytes(12).toString('hex') },
  gateway: { name: `fib-rpc-test-gateway-${tag}`, password: randomBytes(12).toString('hex') },
};

/** The README's permissions: configure, write, read. */
type Permissions = readonly [configure: string, write: string, read: string];
const WORKER: Permissions = ['^rpc_queue$', '^amq\\.default$', '^rpc_queue$'];
const GATEWAY: Permissions = ['^amq\\.gen-.*$', '^amq\\.default$', '^amq\\.gen-.*$'];
const NOTHING = '^$';

function rabbitmqctl(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(RABBITMQCTL, args, { timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) =>
      error ? reject(new Error(`rabbitmqctl ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

function setPermissions(vhost: string, user: string, [configure, write, read]: Permissions): Promise<string> {
  return rabbitmqctl('set_permissions', '-p', vhost, user, configure, write, read);
}

const broker = new URL(AMQP_URL);

function urlFor(who: keyof typeof users, vhost: string): string {
  const { name, password } = users[who];
  return `amqp://${name}:${password}@${broker.hostname}:${broker.port || 5672}/${encodeURIComponent(vhost)}`;
}

interface Pair {
  worker: AppProcess;
  gateway: AppProcess;
  gatewayUrl: string;
  workerHealth: string;
}

describe('per-app broker users with least privilege (fault: shared broker, own vhosts and users)', () => {
  const vhosts: string[] = [];
  const apps: AppProcess[] = [];
  const timings: Record<string, number> = {};

  async function newVhost(label: string, worker: Permissions, gateway: Permissions): Promise<string> {
    const vhost = `fib-rpc-test-${label}-${tag}`;
    vhosts.push(vhost);
    await rabbitmqctl('add_vhost', vhost);
    await setPermissions(vhost, users.worker.name, worker);
    await setPermissions(vhost, users.gateway.name, gateway);
    return vhost;
  }

  async function startPair(
    vhost: string,
    queueType = 'quorum',
    gatewayEnv: Record<string, string> = {},
  ): Promise<Pair> {
    const common = { RPC_QUEUE: QUEUE, RPC_QUEUE_TYPE: queueType, AMQP_CONNECT_TIMEOUT_MS: '5000' };
    const worker = new AppProcess('fib-worker', { ...common, AMQP_URL: urlFor('worker', vhost) });
    const gateway = new AppProcess('gateway', { ...common, ...gatewayEnv, AMQP_URL: urlFor('gateway', vhost) });
    apps.push(worker, gateway);
    const [listening, health] = await Promise.all([
      gateway.waitForOutput(/listening on (http:\/\/[^\s]+?) /, 30_000),
      worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/, 30_000),
    ]);
    return {
      worker,
      gateway,
      gatewayUrl: listening[1].replace('[::1]', '127.0.0.1'),
      workerHealth: `${health[1]}/health`,
    };
  }

  async function expectWorking(pair: Pair, timeoutMs = 20_000): Promise<void> {
    await pair.worker.waitForOutput(/consuming rpc_queue on /, timeoutMs);
    await waitFor(async () => (await httpGet(`${pair.gatewayUrl}/health`)).status === 200, timeoutMs, 'gateway up');
    await waitFor(
      async () => (await httpGet(`${pair.gatewayUrl}/fib/30`)).status === 200,
      timeoutMs,
      'a worker answering',
    );
    const answer = await httpGet(`${pair.gatewayUrl}/fib/30`);
    expect(answer.body).toEqual({ n: 30, value: '832040' });
    expect((await httpGet(pair.workerHealth)).status).toBe(200);
  }

  /**
   * `app` was refused: a line quoting the broker's 403 (`refusal`) and naming the permission (`lacks`),
   * /health 503 (and 503 for calls), alive; then the permission is granted and it works, without a
   * restart; and the refusal was one line, not one per retry.
   */
  async function expectRefusedThenRecovers(
    pair: Pair,
    who: 'worker' | 'gateway',
    refusal: RegExp,
    lacks: RegExp,
    grant: () => Promise<unknown>,
    { provoke = false }: { provoke?: boolean } = {},
  ): Promise<void> {
    const app = pair[who];
    const health = who === 'worker' ? pair.workerHealth : `${pair.gatewayUrl}/health`;
    if (provoke) {
      // A missing write permission shows only when something is published: send calls until the broker refuses one.
      await waitFor(
        async () => {
          await httpGet(`${pair.gatewayUrl}/fib/30`);
          return refusal.test(app.output);
        },
        20_000,
        `the broker refusing a publish of the ${who}`,
      );
    }
    const named = new RegExp(`${refusal.source}.*${lacks.source}`);
    await app.waitForOutput(named, 20_000);
    await waitFor(async () => (await httpGet(health)).status === 503, 10_000, `${who} health 503`);
    expect((await httpGet(`${pair.gatewayUrl}/fib/30`)).status).toBe(503);
    expect(app.running).toBe(true);
    const granted = Date.now();
    await grant();
    await expectWorking(pair, 30_000);
    timings[`${who} ${lacks.source} recovery after grant`] = Date.now() - granted;
    expect(app.running).toBe(true);
    expect(app.output).not.toMatch(/^\s+at /m);
    // one line for the cause, not one per retry (the backoff retried several times meanwhile)
    const lines = app.output.split('\n').filter((line) => refusal.test(line));
    expect(lines).toHaveLength(1);
  }

  /** RabbitMQ's 403 text: it names the resource, not the permission. */
  function refused(resource: string, vhost: string, who: keyof typeof users): RegExp {
    return new RegExp(`access to ${resource} in vhost '${vhost}' refused for user '${users[who].name}'`);
  }

  beforeAll(async () => {
    for (const { name, password } of Object.values(users)) await rabbitmqctl('add_user', name, password);
  }, 120_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });

  afterAll(async () => {
    const problems: unknown[] = [];
    for (const vhost of vhosts) await rabbitmqctl('delete_vhost', vhost).catch((error) => problems.push(error));
    for (const { name } of Object.values(users)) {
      await rabbitmqctl('delete_user', name).catch((error) => problems.push(error));
    }
    console.log(`least-privilege timings (ms): ${JSON.stringify(timings)}`);
    if (problems.length > 0) throw new AggregateError(problems, 'clean-up of test vhosts/users failed');
  }, 120_000);

  it.each(['quorum', 'classic', 'transient'])(
    'RPC_QUEUE_TYPE=%s: both apps work with exactly the documented permissions (the worker declares the queue)',
    async (queueType) => {
      const vhost = await newVhost(queueType, WORKER, GATEWAY);
      const started = Date.now();
      const pair = await startPair(vhost, queueType);
      await expectWorking(pair);
      timings[`${queueType} start to first answer`] = Date.now() - started;
      await pair.worker.waitForOutput(new RegExp(`declared rpc_queue as a ${queueType} queue`));
      const queues = JSON.parse(
        await rabbitmqctl('list_queues', '-p', vhost, 'name', 'type', 'durable', '--formatter', 'json'),
      ) as { name: string; type: string; durable: boolean }[];
      expect(queues.filter((q) => q.name === QUEUE)).toEqual([
        { name: QUEUE, type: queueType === 'quorum' ? 'quorum' : 'classic', durable: queueType !== 'transient' },
      ]);
      expect(pair.worker.output + pair.gateway.output).not.toMatch(/refused|retrying/);
    },
    90_000,
  );

  it('a worker without configure adopts an existing queue (the passive check needs no permission)', async () => {
    const vhost = await newVhost('adopt', WORKER, GATEWAY);
    const first = await startPair(vhost);
    await expectWorking(first);
    await Promise.all([first.worker.stop(), first.gateway.stop()]);
    await setPermissions(vhost, users.worker.name, [NOTHING, WORKER[1], WORKER[2]]);
    const pair = await startPair(vhost);
    await expectWorking(pair);
    expect(pair.worker.output).not.toMatch(/declared rpc_queue|refused|retrying/);
  }, 120_000);

  it('worker without configure, queue absent: refused (configure), 503, retries; recovers when granted', async () => {
    const vhost = await newVhost('w-configure', [NOTHING, WORKER[1], WORKER[2]], GATEWAY);
    const pair = await startPair(vhost);
    await expectRefusedThenRecovers(
      pair,
      'worker',
      refused("queue 'rpc_queue'", vhost, 'worker'),
      /lacks configure on rpc_queue/,
      () => setPermissions(vhost, users.worker.name, WORKER),
    );
  }, 120_000);

  it('worker without read: refused (read), 503, retries; recovers when granted', async () => {
    const vhost = await newVhost('w-read', [WORKER[0], WORKER[1], NOTHING], GATEWAY);
    const pair = await startPair(vhost);
    await expectRefusedThenRecovers(
      pair,
      'worker',
      refused("queue 'rpc_queue'", vhost, 'worker'),
      /lacks read on rpc_queue/,
      () => setPermissions(vhost, users.worker.name, WORKER),
    );
  }, 120_000);

  it('worker without write on amq.default: refused (write), 503, retries; recovers when granted', async () => {
    const vhost = await newVhost('w-write', [WORKER[0], NOTHING, WORKER[2]], GATEWAY);
    const pair = await startPair(vhost);
    await expectRefusedThenRecovers(
      pair,
      'worker',
      refused("exchange 'amq\\.default'", vhost, 'worker'),
      /lacks write on the default exchange/,
      () => setPermissions(vhost, users.worker.name, WORKER),
      { provoke: true },
    );
  }, 120_000);

  it('gateway on direct reply-to (the default) needs write on amq.default only', async () => {
    const vhost = await newVhost('g-direct', WORKER, [NOTHING, GATEWAY[1], NOTHING]);
    const pair = await startPair(vhost);
    await expectWorking(pair);
  }, 120_000);

  it('gateway on a callback queue without configure on amq.gen-*: refused (configure), 503, retries; recovers when granted', async () => {
    const vhost = await newVhost('g-configure', WORKER, [NOTHING, GATEWAY[1], GATEWAY[2]]);
    const pair = await startPair(vhost, 'quorum', { RPC_REPLY_MODE: 'queue' });
    await expectRefusedThenRecovers(
      pair,
      'gateway',
      refused("queue 'amq\\.gen-[^']+'", vhost, 'gateway'),
      /lacks configure on its server-named reply queue/,
      () => setPermissions(vhost, users.gateway.name, GATEWAY),
    );
  }, 120_000);

  it('gateway on a callback queue without read on amq.gen-*: refused (read), 503, retries; recovers when granted', async () => {
    const vhost = await newVhost('g-read', WORKER, [GATEWAY[0], GATEWAY[1], NOTHING]);
    const pair = await startPair(vhost, 'quorum', { RPC_REPLY_MODE: 'queue' });
    await expectRefusedThenRecovers(
      pair,
      'gateway',
      refused("queue 'amq\\.gen-[^']+'", vhost, 'gateway'),
      /lacks read on its server-named reply queue/,
      () => setPermissions(vhost, users.gateway.name, GATEWAY),
    );
  }, 120_000);

  it('gateway without write on amq.default: refused (write), 503, retries; recovers when granted', async () => {
    const vhost = await newVhost('g-write', WORKER, [GATEWAY[0], NOTHING, GATEWAY[2]]);
    const pair = await startPair(vhost);
    await expectRefusedThenRecovers(
      pair,
      'gateway',
      refused("exchange 'amq\\.default'", vhost, 'gateway'),
      /lacks write on the default exchange/,
      () => setPermissions(vhost, users.gateway.name, GATEWAY),
      { provoke: true },
    );
  }, 120_000);
});
