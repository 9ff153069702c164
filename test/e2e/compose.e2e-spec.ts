import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '../..');

/** The variables a deployment sets (passwords with characters JSON and shells care about). */
const deployment = {
  RABBITMQ_USER: 'u1',
  RABBITMQ_PASSWORD: 'p1"\\$x',
  GATEWAY_AMQP_PASSWORD: 'gp1',
  WORKER_AMQP_PASSWORD: 'wp1',
};

/** `docker-compose config`: the file as a real Compose (v1.29 here; no engine needed) resolves it. */
function composeConfig(env: Record<string, string>): string {
  return execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

/** The lines of one service in `docker-compose config` output (two-space indented keys under services). */
function service(config: string, name: string): string {
  const lines = config.split('\n');
  const start = lines.indexOf(`  ${name}:`);
  if (start < 0) throw new Error(`no service ${name} in:\n${config}`);
  const end = lines.findIndex((line, i) => i > start && /^ {0,2}\S/.test(line));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** `KEY: value` entries of a service's environment block (Compose writes a `$` of a value as `$$`). */
function environment(block: string): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = block.split('\n');
  const start = lines.indexOf('    environment:');
  for (const line of lines.slice(start + 1)) {
    const match = /^ {6}([A-Z_]+): (.*)$/.exec(line);
    if (!match) break;
    const raw = match[2];
    const value = raw.startsWith("'")
      ? raw.slice(1, -1).replace(/''/g, "'")
      : raw.startsWith('"')
        ? (JSON.parse(raw) as string)
        : raw;
    env[match[1]] = value.replace(/\$\$/g, '$');
  }
  return env;
}

interface Definitions {
  users: { name: string; password: string; tags: string[] }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  queues: { name: string; durable: boolean; auto_delete: boolean; arguments: Record<string, unknown> }[];
}

describe('docker-compose.yml', () => {
  const config = composeConfig(deployment);

  it('validates with docker-compose config and keeps the services the README describes', () => {
    expect(config).toMatch(/^ {2}rabbitmq:$/m);
    expect(config).toMatch(/^ {2}gateway:$/m);
    expect(config).toMatch(/^ {2}fib-worker:$/m);
    expect(service(config, 'fib-worker')).toMatch(/replicas: 3/);
    expect(service(config, 'gateway')).toMatch(/condition: service_healthy/);
    expect(service(config, 'fib-worker')).toMatch(/condition: service_healthy/);
  });

  it('runs a supported RabbitMQ 4.x and the worker declares rpc_queue as a quorum queue', () => {
    expect(service(config, 'rabbitmq')).toMatch(/^ {4}image: rabbitmq:4\.\d+-management$/m);
    const worker = environment(service(config, 'fib-worker'));
    expect(worker.RPC_QUEUE_TYPE).toBe('quorum');
    expect(worker.RPC_QUEUE).toBe(environment(service(config, 'gateway')).RPC_QUEUE);
  });

  it('gives each app a broker user of its own, with the password from its variable', () => {
    expect(environment(service(config, 'gateway')).AMQP_URL).toBe('amqp://fib-gateway:gp1@rabbitmq:5672');
    expect(environment(service(config, 'fib-worker')).AMQP_URL).toBe('amqp://fib-worker:wp1@rabbitmq:5672');
    const broker = environment(service(config, 'rabbitmq'));
    expect(broker).toMatchObject({
      RABBITMQ_ADMIN_USER: 'u1',
      RABBITMQ_ADMIN_PASSWORD: deployment.RABBITMQ_PASSWORD,
      GATEWAY_AMQP_USER: 'fib-gateway',
      GATEWAY_AMQP_PASSWORD: 'gp1',
      WORKER_AMQP_USER: 'fib-worker',
      WORKER_AMQP_PASSWORD: 'wp1',
    });
  });

  it('mounts broker files that exist, and the broker config loads the definitions start.sh writes', () => {
    const mounts = [...service(config, 'rabbitmq').matchAll(/^ {4}- (\/[^:]+):([^:]+):ro$/gm)];
    expect(mounts.map((mount) => mount[2]).sort()).toEqual([
      '/etc/rabbitmq/conf.d/30-fib-rpc.conf',
      '/etc/rabbitmq/fib-rpc/start.sh',
    ]);
    for (const [, hostPath] of mounts) expect(existsSync(hostPath)).toBe(true);
    expect(readFileSync(join(root, 'docker/rabbitmq/30-fib-rpc.conf'), 'utf8')).toMatch(
      /^definitions\.local\.path = \/etc\/rabbitmq\/definitions\.json$/m,
    );
    expect(service(config, 'rabbitmq')).toMatch(
      /- \/etc\/rabbitmq\/fib-rpc\/start\.sh\n {4}- docker-entrypoint\.sh\n {4}- rabbitmq-server/,
    );
  });

  it('start.sh writes definitions with least-privilege users and rpc_queue as a quorum queue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fib-rpc-definitions-'));
    try {
      const file = join(dir, 'definitions.json');
      const broker = environment(service(config, 'rabbitmq'));
      execFileSync('bash', [join(root, 'docker/rabbitmq/start.sh')], {
        env: { PATH: process.env.PATH ?? '', ...broker, FIB_RPC_DEFINITIONS_FILE: file },
      });
      const definitions = JSON.parse(readFileSync(file, 'utf8')) as Definitions;
      expect(definitions.users).toEqual([
        { name: 'u1', password: deployment.RABBITMQ_PASSWORD, tags: ['administrator'] },
        { name: 'fib-gateway', password: 'gp1', tags: [] },
        { name: 'fib-worker', password: 'wp1', tags: [] },
      ]);
      expect(definitions.permissions).toEqual([
        { user: 'u1', vhost: '/', configure: '.*', write: '.*', read: '.*' },
        {
          user: 'fib-gateway',
          vhost: '/',
          configure: '^amq\\.gen-.*$',
          write: '^amq\\.default$',
          read: '^amq\\.gen-.*$',
        },
        { user: 'fib-worker', vhost: '/', configure: '^rpc_queue$', write: '^amq\\.default$', read: '^rpc_queue$' },
      ]);
      expect(definitions.queues).toEqual([
        { name: 'rpc_queue', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum' } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start.sh refuses to write definitions with an empty password', () => {
    const broker = environment(service(config, 'rabbitmq'));
    const run = () =>
      execFileSync('bash', [join(root, 'docker/rabbitmq/start.sh')], {
        env: {
          PATH: process.env.PATH ?? '',
          ...broker,
          WORKER_AMQP_PASSWORD: '',
          FIB_RPC_DEFINITIONS_FILE: '/nonexistent/x',
        },
        stdio: 'pipe',
      });
    expect(run).toThrow(expect.objectContaining({ status: 1 }) as Error);
  });
});

describe('Dockerfile', () => {
  it('runs the apps on the Node LTS major that CI tests (.ci/run NODE_LTS)', () => {
    const froms = [...readFileSync(join(root, 'Dockerfile'), 'utf8').matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
    const ciDefault = /^NODE_LTS=\$\{NODE_LTS:-(\d+)\}$/m.exec(readFileSync(join(root, '.ci/run'), 'utf8'));
    expect(froms).toHaveLength(2);
    expect(new Set(froms)).toEqual(new Set([ciDefault?.[1]]));
  });
});
