import { fib } from '@app/fib';
import { connect } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { chownSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sleep, waitFor } from '../support/broker';
import { freeNodePort, PrivateNode } from '../support/private-node';
import { Containers, podman, podmanOk } from './podman';

/**
 * The image as a user runs it (docs/container.md): built from the repository's Dockerfile with podman, its
 * containers on the host network against a private broker node on loopback, hardened the way
 * deploy/kubernetes runs them. Run by CI's `image` leg (.ci/run), which sets podman and the base image up;
 * not part of `npm test` (the file name is not a spec name jest.config.js matches).
 */

const CONTEXT = resolve(process.env.IMAGE_CONTEXT ?? join(__dirname, '../..'));
const IMAGE = process.env.IMAGE_TAG ?? 'localhost/fib-rpc:ci';
const BUILD_TIMEOUT_MS = 20 * 60_000;
const BUILD_ARGS = ['build', '--pull=never', '--network=host', '--format', 'docker'];
/** What a Kubernetes pod of deploy/kubernetes gets: read-only root (no tmpfs either), no capabilities. */
const HARDENED = ['--read-only', '--read-only-tmpfs=false', '--cap-drop=ALL', '--security-opt', 'no-new-privileges'];
const DEV_ONLY = ['typescript', 'jest', 'ts-jest', '@nestjs/cli', 'eslint', 'prettier', 'autocannon', 'supertest'];

const containers = new Containers(process.env.IMAGE_CONTAINER_PREFIX ?? `fibimg-${process.pid}`);
let node: PrivateNode;
let amqpUrlFile: string;
let password: string;
let workDir: string;

/** GET over loopback with a hard limit; the raw body, so "exactly" means byte for byte. */
async function get(url: string, limitMs = 30_000): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(limitMs) });
  return { status: res.status, text: await res.text() };
}

async function ready(url: string, limitMs = 60_000): Promise<void> {
  await waitFor(
    async () => (await get(url, 2000).catch(() => ({ status: 0 }))).status === 200,
    limitMs,
    `${url} answering 200`,
  );
}

async function consumers(queue: string): Promise<number> {
  const connection = await connect(node.url);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return (await channel.checkQueue(queue)).consumerCount;
  } catch {
    return 0;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The app's environment: AMQP_URL_FILE from a mounted secret file (never AMQP_URL), its own queue and ports. */
function appArgs(app: 'gateway' | 'fib-worker', env: Record<string, string>): string[] {
  const args = [...HARDENED, '-v', `${amqpUrlFile}:/run/secrets/amqp-url:ro`, '-e', `APP=${app}`];
  args.push('-e', 'AMQP_URL_FILE=/run/secrets/amqp-url');
  for (const [key, value] of Object.entries(env)) args.push('-e', `${key}=${value}`);
  return args;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

async function procStatus(name: string): Promise<string> {
  return podmanOk(['exec', name, 'cat', '/proc/1/status']);
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'fib-rpc-image-'));
  node = await PrivateNode.start({ name: `fibimg${process.pid}` });
  // a login of its own, so the one password the logs must never show is known and unique
  password = `pw${randomBytes(12).toString('hex')}`;
  await node.ctl('add_user', 'fibimg', password);
  await node.ctl('set_permissions', 'fibimg', '.*', '.*', '.*');
  amqpUrlFile = join(workDir, 'amqp-url');
  writeFileSync(amqpUrlFile, `amqp://fibimg:${password}@127.0.0.1:${node.port}\n`, { mode: 0o400 });
  // readable by the container's uid 1000 only, as a Secret volume with fsGroup gives it
  chownSync(amqpUrlFile, 1000, 1000);

  const started = Date.now();
  const build = await podman(
    [...BUILD_ARGS, '--build-arg', `REVISION=${process.env.GIT_REVISION ?? 'ci'}`, '-t', IMAGE, CONTEXT],
    BUILD_TIMEOUT_MS,
  );
  if (build.code !== 0)
    throw new Error(`image build failed (${build.code}):\n${build.stdout.slice(-6000)}\n${build.stderr}`);
  const size = Number(await podmanOk(['image', 'inspect', '--format', '{{.Size}}', IMAGE]));
  process.stdout.write(
    `image ${IMAGE}: built in ${((Date.now() - started) / 1000).toFixed(1)} s, ${(size / 1e6).toFixed(1)} MB\n`,
  );
}, BUILD_TIMEOUT_MS + 120_000);

afterAll(async () => {
  await containers.removeAll();
  await node?.stop();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
}, 180_000);

describe('the image', () => {
  it('carries OCI labels, NODE_ENV=production, a health check, and nothing of the tests, benches or devDependencies', async () => {
    const [inspected] = JSON.parse(await podmanOk(['image', 'inspect', IMAGE])) as {
      Config: { Labels?: Record<string, string>; Env?: string[]; User?: string };
      Healthcheck?: { Test?: string[] };
    }[];
    const config = inspected.Config;
    for (const label of ['title', 'description', 'licenses', 'version', 'revision', 'base.name']) {
      expect(config.Labels?.[`org.opencontainers.image.${label}`]).toBeTruthy();
    }
    expect(config.Env).toContain('NODE_ENV=production');
    expect(config.User).toBe('1000:1000');
    expect(inspected.Healthcheck?.Test?.join(' ')).toContain('container-health.js');

    const listing = await podmanOk(
      [
        'run',
        '--rm',
        '--network=none',
        '--entrypoint',
        'sh',
        IMAGE,
        '-c',
        'ls /app; ls /app/node_modules; find /app -path /app/node_modules -prune -o -type f -print',
      ],
      60_000,
    );
    for (const dev of DEV_ONLY) expect(listing.split('\n')).not.toContain(dev.split('/').pop());
    const files = listing.split('\n').filter((line) => line.startsWith('/app/'));
    expect(files.filter((f) => /\.ts$|spec|\/test\/|\/bench\//.test(f))).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining(['/app/dist/apps/gateway/main.js', '/app/dist/apps/fib-worker/main.js']),
    );
  }, 120_000);

  it('serves GET /fib/30 exactly through a gateway and two worker containers, as uid 1000, read-only, without capabilities, from a secret file', async () => {
    const queue = `image_rpc_${process.pid}`;
    const [gatewayPort, w1, w2] = [await freeNodePort(), await freeNodePort(), await freeNodePort()];
    const env = { RPC_QUEUE: queue, LOG_LEVEL: 'info' };
    const worker1 = await containers.run(
      'worker1',
      IMAGE,
      appArgs('fib-worker', { ...env, WORKER_HTTP_PORT: `${w1}` }),
    );
    const worker2 = await containers.run(
      'worker2',
      IMAGE,
      appArgs('fib-worker', { ...env, WORKER_HTTP_PORT: `${w2}` }),
    );
    const gateway = await containers.run('gateway', IMAGE, appArgs('gateway', { ...env, PORT: `${gatewayPort}` }));
    await ready(`http://127.0.0.1:${w1}/health`);
    await ready(`http://127.0.0.1:${w2}/health`);
    await ready(`http://127.0.0.1:${gatewayPort}/health`);
    await waitFor(async () => (await consumers(queue)) === 2, 20_000, 'two consumers on the queue');

    const answer = await get(`http://127.0.0.1:${gatewayPort}/fib/30`);
    expect(answer).toEqual({ status: 200, text: '{"n":30,"value":"832040"}' });

    // both workers answer: 200 calls, 20 at a time, and each worker's own count of requests grows
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => get(`http://127.0.0.1:${gatewayPort}/fib/30`)),
      );
      expect(answers.every((a) => a.text === '{"n":30,"value":"832040"}')).toBe(true);
    }
    const handled = await Promise.all(
      [w1, w2].map(async (port) =>
        metric((await get(`http://127.0.0.1:${port}/metrics`)).text, 'fib_worker_requests_total'),
      ),
    );
    expect(handled[0]).toBeGreaterThan(0);
    expect(handled[1]).toBeGreaterThan(0);
    expect(handled[0] + handled[1]).toBeGreaterThanOrEqual(201);

    for (const name of [worker1, worker2, gateway]) {
      const status = await procStatus(name);
      // PID 1 is node itself (the shell exec'd it), so SIGTERM reaches the app; uid 1000, no capabilities
      const cmdline = await podmanOk(['exec', name, 'cat', '/proc/1/cmdline']);
      expect(cmdline.split('\0').slice(0, 2)).toEqual(['node', expect.stringMatching(/^dist\/apps\/.*\/main\.js$/)]);
      expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
      expect(status).toMatch(/^CapEff:\s+0+$/m);
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      const write = await podman(['exec', name, 'sh', '-c', 'echo x > /app/probe || echo x > /tmp/probe']);
      expect(write.code).not.toBe(0);
      expect(write.stderr).toMatch(/Read-only file system/);
      // the health check the image declares, as `podman healthcheck run` runs it
      const health = await podman(['healthcheck', 'run', name]);
      const state = (await podmanOk(['inspect', '--format', '{{.State.Health.Status}}', name])).trim();
      expect({ name, code: health.code, state }).toEqual({ name, code: 0, state: 'healthy' });
      const logs = await containers.logs(name);
      expect(logs.length).toBeGreaterThan(0);
      expect(logs).not.toContain(password);
    }
  }, 240_000);

  it('reports unhealthy while the broker is unreachable, and /health/live (the liveness probe) still answers', async () => {
    const [port, closed] = [await freeNodePort(), await freeNodePort()];
    const gateway = await containers.run('nobroker', IMAGE, [
      ...HARDENED,
      '-e',
      'APP=gateway',
      '-e',
      `PORT=${port}`,
      '-e',
      `AMQP_URL=amqp://nobody:nothing@127.0.0.1:${closed}`,
    ]);
    await ready(`http://127.0.0.1:${port}/health/live`);
    expect((await get(`http://127.0.0.1:${port}/health`)).status).toBe(503);
    const health = await podman(['healthcheck', 'run', gateway]);
    expect(health.code).not.toBe(0);
    expect((await podmanOk(['inspect', '--format', '{{.State.Health.Status}}', gateway])).trim()).not.toBe('healthy');
    expect(await containers.logs(gateway)).not.toContain('nothing@');
  }, 120_000);

  it('drains on `podman stop`: a call in flight is answered and the container exits 0 within the stop timeout', async () => {
    const queue = `image_drain_${process.pid}`;
    const [g1, g2, w] = [await freeNodePort(), await freeNodePort(), await freeNodePort()];
    // big n, so calls take ~0.5 s of the worker's CPU each and are surely in flight when the signal comes
    const n = 2_500_000;
    const env = { RPC_QUEUE: queue, FIB_MAX_N: '5000000', RPC_TIMEOUT_MS: '30000', LOG_LEVEL: 'warn' };
    const expected = `{"n":${n},"value":"${fib(n).toString()}"}`;
    const worker = await containers.run(
      'drain-worker',
      IMAGE,
      appArgs('fib-worker', { ...env, WORKER_HTTP_PORT: `${w}` }),
    );
    const gateway1 = await containers.run('drain-gateway1', IMAGE, appArgs('gateway', { ...env, PORT: `${g1}` }));
    await ready(`http://127.0.0.1:${w}/health`);
    await ready(`http://127.0.0.1:${g1}/health`);

    // the gateway stops while calls are pending: they are answered, then it exits 0
    const pending1 = Array.from({ length: 4 }, () => get(`http://127.0.0.1:${g1}/fib/${n}`, 60_000));
    await sleep(300);
    const stop1 = await podman(['stop', '-t', '25', gateway1], 60_000);
    const answers1 = await Promise.all(pending1);
    expect(answers1.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers1.every((a) => a.text === expected)).toBe(true);
    expect(stop1.code).toBe(0);
    expect(stop1.ms).toBeLessThan(25_000);
    expect((await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', gateway1])).trim()).toBe('0');

    // the worker stops with requests in hand: it answers them, then exits 0
    const gateway2 = await containers.run('drain-gateway2', IMAGE, appArgs('gateway', { ...env, PORT: `${g2}` }));
    await ready(`http://127.0.0.1:${g2}/health`);
    const pending2 = Array.from({ length: 4 }, () => get(`http://127.0.0.1:${g2}/fib/${n}`, 60_000));
    await sleep(300);
    const stop2 = await podman(['stop', '-t', '25', worker], 60_000);
    const answers2 = await Promise.all(pending2);
    expect(answers2.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers2.every((a) => a.text === expected)).toBe(true);
    expect(stop2.code).toBe(0);
    expect(stop2.ms).toBeLessThan(25_000);
    expect((await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', worker])).trim()).toBe('0');
    for (const name of [worker, gateway1, gateway2]) expect(await containers.logs(name)).not.toContain(password);
  }, 240_000);

  it(
    'rebuilds after a source-only change from the cached `npm ci` layer',
    async () => {
      // a copy of the build context with one source line more: the dependency layer must come from the cache
      const copy = join(workDir, 'context');
      cpSync(CONTEXT, copy, {
        recursive: true,
        filter: (src) => !/\/(node_modules|dist|\.git|coverage)(\/|$)/.test(src.slice(CONTEXT.length)),
      });
      const main = join(copy, 'apps/fib-worker/src/main.ts');
      appendFileSync(main, `// source-only change ${Date.now()}\n`);
      expect(readFileSync(main, 'utf8')).toMatch(/source-only change/);
      const tag = `${IMAGE}-cachecheck`;
      const build = await podman([...BUILD_ARGS, '-t', tag, copy], BUILD_TIMEOUT_MS);
      await podman(['rmi', tag]);
      expect(build.code).toBe(0);
      const steps = build.stdout.split(/\n(?=\[\d\/\d\] STEP )/);
      const npmCi = steps.find((s) => /^\[1\/2\] STEP \d+\/\d+: RUN npm ci/.test(s));
      const copyApps = steps.find((s) => /^\[1\/2\] STEP \d+\/\d+: COPY apps apps/.test(s));
      expect(npmCi).toMatch(/Using cache/);
      // and the change was seen: the sources' layer was not
      expect(copyApps).not.toMatch(/Using cache/);
      process.stdout.write(
        `rebuild after a source-only change: ${(build.ms / 1000).toFixed(1)} s (npm ci from the cache)\n`,
      );
    },
    BUILD_TIMEOUT_MS,
  );
});
