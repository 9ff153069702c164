import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess } from '../support/app-process';
import { AMQP_URL, waitFor } from '../support/broker';
import { httpGet } from '../support/http';

/**
 * Secrets: the URL with its password from AMQP_URL_FILE, a password holding "@", "%40" and ":", and no
 * output of any app — log lines at debug level, /health, /metrics, a configuration error — that shows
 * it in any form (raw, percent-encoded, percent-decoded). Its own user and vhost on the shared broker,
 * deleted in afterAll.
 */

const RABBITMQCTL = process.env.RABBITMQCTL ?? 'rabbitmqctl';
const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
const vhost = `fib-rpc-test-secrets-${tag}`;
const user = `fib-rpc-test-secrets-${tag}`;
/** A token that survives every encoding: if it shows anywhere, the password leaked. */
const token = randomBytes(9).toString('hex');
const password = `s3cr@t%40:${token}`;
const wrongToken = randomBytes(9).toString('hex');
const wrongPassword = `wr@ng%40:${wrongToken}`;
const broker = new URL(AMQP_URL);
const hostPort = `${broker.hostname}:${broker.port || 5672}`;

function rabbitmqctl(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(RABBITMQCTL, args, { timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) =>
      error ? reject(new Error(`rabbitmqctl ${args[0]}: ${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** Every form the password (or a wrong one) could show in. */
function forms(secret: string, secretToken: string): string[] {
  return [secret, encodeURIComponent(secret), decodeURIComponent(secret), secretToken];
}

function expectNoSecret(text: string): void {
  for (const form of [...forms(password, token), ...forms(wrongPassword, wrongToken)]) {
    expect(text.includes(form) ? form : 'absent').toBe('absent');
  }
}

function urlWith(secret: string): string {
  return `amqp://${user}:${encodeURIComponent(secret)}@${hostPort}/${encodeURIComponent(vhost)}`;
}

describe('secrets: AMQP_URL_FILE and a password never shown (fault: shared broker, own vhost and user)', () => {
  let dir: string;
  const apps: AppProcess[] = [];

  function start(name: 'gateway' | 'fib-worker' | 'cli', env: Record<string, string>, args: string[] = []): AppProcess {
    const app = new AppProcess(name, { LOG_LEVEL: 'debug', AMQP_CONNECT_TIMEOUT_MS: '5000', ...env }, args);
    apps.push(app);
    return app;
  }

  function urlFile(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fib-rpc-secrets-'));
    await rabbitmqctl('add_vhost', vhost);
    await rabbitmqctl('add_user', user, password);
    await rabbitmqctl('set_permissions', '-p', vhost, user, '.*', '.*', '.*');
  }, 120_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });

  afterAll(async () => {
    const problems: unknown[] = [];
    await rabbitmqctl('delete_vhost', vhost).catch((error) => problems.push(error));
    await rabbitmqctl('delete_user', user).catch((error) => problems.push(error));
    rmSync(dir, { recursive: true, force: true });
    if (problems.length > 0) throw new AggregateError(problems, 'clean-up of the test vhost/user failed');
  }, 120_000);

  it('the apps and the CLI connect with the URL from AMQP_URL_FILE (it wins over AMQP_URL); no password in any output', async () => {
    // a trailing newline, as `echo` and most secret stores leave it
    const file = urlFile('amqp-url', `${urlWith(password)}\n`);
    const env = {
      AMQP_URL_FILE: file,
      AMQP_URL: `amqp://${user}:${encodeURIComponent(wrongPassword)}@127.0.0.1:1/`,
      RPC_QUEUE: 'rpc_queue',
    };
    const worker = start('fib-worker', env);
    const gateway = start('gateway', env);
    const gatewayUrl = (await gateway.waitForOutput(/listening on (http:\/\/[^\s]+?) /, 30_000))[1].replace(
      '[::1]',
      '127.0.0.1',
    );
    const workerUrl = (await worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/, 30_000))[1];
    await worker.waitForOutput(/consuming rpc_queue on amqp:\/\/127\.0\.0\.1:\d+\/fib-rpc-test-secrets/, 20_000);
    await waitFor(async () => (await httpGet(`${gatewayUrl}/fib/30`)).status === 200, 20_000, 'an answer');
    const answer = await httpGet(`${gatewayUrl}/fib/30`);
    expect(answer.body).toEqual({ n: 30, value: '832040' });
    const cli = start('cli', env, ['30']);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.output).toMatch(/832040/);
    const served = [
      await httpGet(`${gatewayUrl}/health`),
      await httpGet(`${gatewayUrl}/metrics`),
      await httpGet(`${workerUrl}/health`),
      await httpGet(`${workerUrl}/metrics`),
    ].map((res) => JSON.stringify(res.body));
    expect(served[0]).toMatch(/fib-rpc-test-secrets/);
    expectNoSecret([worker.output, gateway.output, cli.output, ...served].join('\n'));
  }, 90_000);

  it('a wrong password: access refused lines, 503, retrying, and still no password in any output', async () => {
    const env = { AMQP_URL_FILE: urlFile('wrong-url', urlWith(wrongPassword)), RPC_QUEUE: 'rpc_queue' };
    const worker = start('fib-worker', env);
    const gateway = start('gateway', env);
    const gatewayUrl = (await gateway.waitForOutput(/listening on (http:\/\/[^\s]+?) /, 30_000))[1].replace(
      '[::1]',
      '127.0.0.1',
    );
    const workerUrl = (await worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/, 30_000))[1];
    for (const app of [worker, gateway]) await app.waitForOutput(/ACCESS.REFUSED.*retrying/, 20_000);
    const served = [
      await httpGet(`${gatewayUrl}/fib/30`),
      await httpGet(`${gatewayUrl}/health`),
      await httpGet(`${workerUrl}/health`),
    ];
    expect(served.map((res) => res.status)).toEqual([503, 503, 503]);
    const cli = start('cli', env, ['30']);
    expect((await cli.exited).code).not.toBe(0);
    expect(worker.running && gateway.running).toBe(true);
    expectNoSecret(
      [worker.output, gateway.output, cli.output, ...served.map((r) => JSON.stringify(r.body))].join('\n'),
    );
  }, 90_000);

  it.each([
    ['an invalid percent-encoding', `amqp://${user}:pa%zz@ss:${token}@${hostPort}/`],
    ['a bad port', `amqp://${user}:${password}@${hostPort}99`],
    ['whitespace', `amqp://${user}:${encodeURIComponent(password)} x@${hostPort}/`],
    [
      'a list with a bad entry',
      `amqp://${user}:${password}@${hostPort},ftp://${user}:${encodeURIComponent(password)}@h`,
    ],
    ['an unencoded password', `amqp://${user}:${password}/@${hostPort}/`],
  ])(
    'a config error (AMQP_URL with %s): exit 1, one line naming AMQP_URL, no password',
    async (_what, url) => {
      const runs = [
        start('gateway', { AMQP_URL: url }),
        start('fib-worker', { AMQP_URL: url }),
        start('cli', { AMQP_URL: url }, ['30']),
      ];
      for (const app of runs) {
        expect(await app.exited).toEqual({ code: 1, signal: null });
        expect(app.output.trim().split('\n')).toHaveLength(1);
        expect(app.output).toMatch(/AMQP_URL/);
        expectNoSecret(app.output);
      }
    },
    60_000,
  );

  it('a config error in the content of AMQP_URL_FILE: exit 1, one line naming AMQP_URL_FILE, no password', async () => {
    const file = urlFile('bad-url', `amqp://${user}:${password}@${hostPort}:x/\n`);
    const runs = [start('gateway', { AMQP_URL_FILE: file }), start('fib-worker', { AMQP_URL_FILE: file })];
    for (const app of runs) {
      expect(await app.exited).toEqual({ code: 1, signal: null });
      expect(app.output.trim().split('\n')).toHaveLength(1);
      expect(app.output).toMatch(/AMQP_URL_FILE/);
      expectNoSecret(app.output);
    }
  }, 60_000);
});
