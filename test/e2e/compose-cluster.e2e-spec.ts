import { parseAmqpUrlList } from '@app/runtime';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const file = join(root, 'docker-compose.cluster.yml');
const NODES = ['rabbitmq-1', 'rabbitmq-2', 'rabbitmq-3'];

/** The variables a deployment sets (a password with characters JSON and shells care about). */
const deployment = {
  RABBITMQ_ERLANG_COOKIE: 'c0ffee-cookie-0123456789abcdef',
  RABBITMQ_USER: 'u1',
  RABBITMQ_PASSWORD: 'p1"\\$x',
  GATEWAY_AMQP_PASSWORD: 'gp1',
  WORKER_AMQP_PASSWORD: 'wp1',
};

/** `docker-compose config`: the file as a real Compose (v1.29 here; no engine needed) resolves it. */
function composeConfig(env: Record<string, string>): string {
  return execFileSync('docker-compose', ['-f', file, 'config'], {
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

/** Runs cluster-node.sh with `env`, writing the cookie to a temp path; returns the path's dir for inspection. */
function runClusterNode(env: Record<string, string>, args: string[] = []): { dir: string; cookiePath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fib-rpc-cookie-'));
  const cookiePath = join(dir, '.erlang.cookie');
  try {
    execFileSync('bash', [join(root, 'docker/rabbitmq-cluster/cluster-node.sh'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env, FIB_RPC_COOKIE_PATH: cookiePath },
      stdio: 'pipe',
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, cookiePath };
}

describe('docker-compose.cluster.yml', () => {
  const config = composeConfig(deployment);

  it('validates with docker-compose config: three RabbitMQ 4.x nodes, the gateway and worker replicas', () => {
    for (const node of NODES) {
      expect(service(config, node)).toMatch(/^ {4}image: rabbitmq:4\.\d+-management$/m);
      expect(service(config, node)).toMatch(new RegExp(`^ {4}hostname: ${node}$`, 'm'));
      expect(environment(service(config, node)).RABBITMQ_NODENAME).toBe(`rabbit@${node}`);
    }
    expect(service(config, 'fib-worker')).toMatch(/replicas: 3/);
    for (const app of ['gateway', 'fib-worker']) {
      for (const node of NODES) {
        expect(service(config, app)).toMatch(new RegExp(`${node}:\\n {8}condition: service_healthy`));
      }
    }
  });

  it('every node gets the same Erlang cookie, from the variable', () => {
    const cookies = NODES.map((node) => environment(service(config, node)).RABBITMQ_ERLANG_COOKIE_VALUE);
    expect(cookies).toEqual(NODES.map(() => deployment.RABBITMQ_ERLANG_COOKIE));
  });

  it('forms the cluster by classic config peer discovery naming the three nodes', () => {
    const mounts = NODES.map((node) =>
      [...service(config, node).matchAll(/^ {4}- (\/[^:]+):([^:]+):ro$/gm)].map((mount) => [mount[1], mount[2]]),
    );
    for (const nodeMounts of mounts) {
      expect(nodeMounts.map(([, target]) => target).sort()).toEqual([
        '/etc/rabbitmq/conf.d/30-fib-rpc.conf',
        '/etc/rabbitmq/conf.d/40-cluster.conf',
        '/etc/rabbitmq/fib-rpc/cluster-node.sh',
        '/etc/rabbitmq/fib-rpc/start.sh',
      ]);
      for (const [hostPath] of nodeMounts) expect(existsSync(hostPath)).toBe(true);
    }
    const conf = readFileSync(join(root, 'docker/rabbitmq-cluster/40-cluster.conf'), 'utf8');
    expect(conf).toMatch(/^cluster_formation\.peer_discovery_backend = classic_config$/m);
    const listed = [...conf.matchAll(/^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$/gm)].map((m) => m[1]);
    expect(listed).toEqual(NODES.map((node) => `rabbit@${node}`));
    // the node's start: cookie first, then the definitions (start.sh), then the image's entrypoint
    expect(service(config, 'rabbitmq-1')).toMatch(
      /- \/etc\/rabbitmq\/fib-rpc\/cluster-node\.sh\n {4}- bash\n {4}- \/etc\/rabbitmq\/fib-rpc\/start\.sh\n {4}- docker-entrypoint\.sh\n {4}- rabbitmq-server/,
    );
  });

  it('gives the apps all three nodes in AMQP_URL, each as its own broker user', () => {
    const gatewayUrls = parseAmqpUrlList(environment(service(config, 'gateway')).AMQP_URL, 'AMQP_URL');
    const workerUrls = parseAmqpUrlList(environment(service(config, 'fib-worker')).AMQP_URL, 'AMQP_URL');
    expect(gatewayUrls).toEqual(NODES.map((node) => `amqp://fib-gateway:gp1@${node}:5672`));
    expect(workerUrls).toEqual(NODES.map((node) => `amqp://fib-worker:wp1@${node}:5672`));
    for (const node of NODES) {
      expect(environment(service(config, node))).toMatchObject({
        RABBITMQ_ADMIN_USER: 'u1',
        RABBITMQ_ADMIN_PASSWORD: deployment.RABBITMQ_PASSWORD,
        GATEWAY_AMQP_USER: 'fib-gateway',
        GATEWAY_AMQP_PASSWORD: 'gp1',
        WORKER_AMQP_USER: 'fib-worker',
        WORKER_AMQP_PASSWORD: 'wp1',
        RPC_QUEUE: 'rpc_queue',
      });
    }
    const worker = environment(service(config, 'fib-worker'));
    expect(worker.RPC_QUEUE_TYPE).toBe('quorum');
    expect(worker.RPC_QUEUE).toBe(environment(service(config, 'gateway')).RPC_QUEUE);
  });

  it('cluster-node.sh writes the cookie readable by its owner only, then runs the command it is given', () => {
    const marker = join(tmpdir(), `fib-rpc-cookie-ran-${process.pid}`);
    const { dir, cookiePath } = runClusterNode({ RABBITMQ_ERLANG_COOKIE_VALUE: deployment.RABBITMQ_ERLANG_COOKIE }, [
      'bash',
      '-c',
      `touch ${marker}`,
    ]);
    try {
      expect(readFileSync(cookiePath, 'utf8')).toBe(deployment.RABBITMQ_ERLANG_COOKIE);
      expect(statSync(cookiePath).mode & 0o777).toBe(0o400);
      expect(existsSync(marker)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(marker, { force: true });
    }
  });

  it('cluster-node.sh takes the cookie from a secret file when RABBITMQ_ERLANG_COOKIE_FILE names one', () => {
    const secretDir = mkdtempSync(join(tmpdir(), 'fib-rpc-secret-'));
    const secret = join(secretDir, 'erlang_cookie');
    writeFileSync(secret, 'from-a-secret-file-0123456789\n');
    const { dir, cookiePath } = runClusterNode({
      RABBITMQ_ERLANG_COOKIE_FILE: secret,
      RABBITMQ_ERLANG_COOKIE_VALUE: 'ignored-when-a-file-is-named',
    });
    try {
      expect(readFileSync(cookiePath, 'utf8')).toBe('from-a-secret-file-0123456789');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(secretDir, { recursive: true, force: true });
    }
  });

  it('cluster-node.sh refuses an empty or malformed cookie (exit 1, nothing started)', () => {
    for (const cookie of ['', 'short', 'has spaces in it 0123456789']) {
      expect(() => runClusterNode({ RABBITMQ_ERLANG_COOKIE_VALUE: cookie }, ['true'])).toThrow(
        expect.objectContaining({ status: 1 }) as Error,
      );
    }
  });
});
