import { randomBytes } from 'node:crypto';
import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { AppProcess } from '../support/app-process';
import { uniqueQueue, waitFor } from '../support/broker';
import { httpGet } from '../support/http';
import { PrivateNode } from '../support/private-node';
import { TlsCerts } from '../support/tls-certs';

/**
 * amqps:// against private RabbitMQ nodes with an AMQPS listener and certificates made by openssl
 * (never the shared node): the built gateway and worker as child processes.
 *  - node `verify`: verify_peer, fail_if_no_peer_cert = false (server certificate checked by the apps);
 *  - node `mutual`: verify_peer, fail_if_no_peer_cert = true, rabbitmq_auth_mechanism_ssl with EXTERNAL
 *    (login = the client certificate's CN).
 */

/** A free TCP port on 127.0.0.1 (for a node's AMQPS listener). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP forwarder that counts the connections it accepted: proof that an app keeps retrying. */
class CountingForwarder {
  accepted = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly target: number,
  ) {}

  static async start(target: number): Promise<CountingForwarder> {
    const server = createServer();
    const forwarder = new CountingForwarder(server, target);
    server.on('connection', (client) => forwarder.pipe(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return forwarder;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    this.accepted++;
    const upstream = new Socket();
    upstream.connect(this.target, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  }
}

function tlsConfig(certs: TlsCerts, sslPort: number, requireClientCert: boolean): string {
  return [
    `listeners.ssl.default = 127.0.0.1:${sslPort}`,
    `ssl_options.cacertfile = ${certs.ca}`,
    `ssl_options.certfile = ${certs.server.cert}`,
    `ssl_options.keyfile = ${certs.server.key}`,
    'ssl_options.verify = verify_peer',
    `ssl_options.fail_if_no_peer_cert = ${requireClientCert}`,
    ...(requireClientCert
      ? [
          'auth_mechanisms.1 = PLAIN',
          'auth_mechanisms.2 = AMQPLAIN',
          'auth_mechanisms.3 = EXTERNAL',
          'ssl_cert_login_from = common_name',
        ]
      : []),
  ].join('\n');
}

/** The worker's health URL, printed once its first attempt has ended (whatever its outcome). */
async function workerHealthUrl(worker: AppProcess): Promise<string> {
  return `${(await worker.waitForOutput(/health at (http:\/\/[\d.:]+)\/health/, 30_000))[1]}/health`;
}

/** The gateway's base URL once it listens (a loaded machine may take a while to start it). */
async function gatewayBaseUrl(gateway: AppProcess): Promise<string> {
  const match = await gateway.waitForOutput(/listening on (http:\/\/[^\s]+?) /, 30_000);
  return match[1].replace('[::1]', '127.0.0.1');
}

/** A running gateway and worker on one queue with the given environments. */
async function startPair(
  common: Record<string, string>,
  worker: Record<string, string>,
  gateway: Record<string, string>,
  started: AppProcess[],
): Promise<{ worker: AppProcess; gateway: AppProcess; gatewayUrl: string; workerHealth: string }> {
  const queue = uniqueQueue('tls');
  const w = new AppProcess('fib-worker', { RPC_QUEUE: queue, AMQP_CONNECT_TIMEOUT_MS: '5000', ...common, ...worker });
  const g = new AppProcess('gateway', { RPC_QUEUE: queue, AMQP_CONNECT_TIMEOUT_MS: '5000', ...common, ...gateway });
  started.push(w, g);
  const [gatewayUrl, workerHealth] = await Promise.all([gatewayBaseUrl(g), workerHealthUrl(w)]);
  return { worker: w, gateway: g, gatewayUrl, workerHealth };
}

/** fib(30) through the gateway once the worker consumes. */
async function expectWorks(pair: Awaited<ReturnType<typeof startPair>>): Promise<void> {
  await pair.worker.waitForOutput(/consuming test\.tls\.\S+ on amqps:\/\//, 20_000);
  await waitFor(async () => (await httpGet(`${pair.gatewayUrl}/health`)).status === 200, 20_000, 'gateway health');
  // the gateway may have connected before the worker declared the queue: its consumer check catches up
  await waitFor(async () => (await httpGet(`${pair.gatewayUrl}/fib/30`)).status === 200, 20_000, 'an answer');
  const answer = await httpGet(`${pair.gatewayUrl}/fib/30`);
  expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { n: 30, value: '832040' } });
  expect((await httpGet(pair.workerHealth)).status).toBe(200);
  for (const app of [pair.worker, pair.gateway]) {
    expect(app.output).not.toMatch(/DEP0123|DeprecationWarning|retrying/);
  }
}

/**
 * Refused at the TLS layer: one line naming the node and the cause (no stack), 503 from the gateway and
 * both healths, both processes alive and still trying (new connections through the forwarder), no crash.
 */
async function expectRefusedCleanly(
  pair: Awaited<ReturnType<typeof startPair>>,
  forwarder: CountingForwarder,
  cause: RegExp,
  host = 'localhost',
): Promise<void> {
  const line = new RegExp(
    `cannot connect to amqps://${host.replace(/\./g, '\\.')}:${forwarder.port}/: [^\\n]*${cause.source}[^\\n]*; retrying`,
    'i',
  );
  await pair.worker.waitForOutput(line, 20_000);
  await pair.gateway.waitForOutput(line, 20_000);
  const fibAnswer = await httpGet(`${pair.gatewayUrl}/fib/30`);
  expect(fibAnswer.status).toBe(503);
  expect(fibAnswer.headers.get('retry-after')).not.toBeNull();
  expect((await httpGet(`${pair.gatewayUrl}/health`)).status).toBe(503);
  expect((await httpGet(pair.workerHealth)).status).toBe(503);
  const before = forwarder.accepted;
  await waitFor(() => forwarder.accepted >= before + 2, 15_000, 'two more connection attempts');
  for (const app of [pair.worker, pair.gateway]) {
    expect(app.running).toBe(true);
    const lines = app.output.split('\n').filter((text) => line.test(text));
    // one line per cause (repeats are held back), never a stack trace
    expect(lines.length).toBeGreaterThanOrEqual(1);
    console.log(`${app.name}, ${forwarder.accepted} attempts so far: ${lines[0]}`);
    expect(lines.length).toBeLessThanOrEqual(forwarder.accepted);
    expect(app.output).not.toMatch(/^\s+at /m);
    expect(app.output).not.toMatch(/DEP0123|unhandled|uncaught/i);
    // OpenSSL's raw text (error stack, source file, embedded newline) is not a clear line
    expect(lines.join('\n')).not.toMatch(/SSL routines|rec_layer|\\n/);
  }
}

describe('TLS to the broker (fault: private AMQPS nodes)', () => {
  let certs: TlsCerts;
  let verify: PrivateNode;
  let mutual: PrivateNode;
  let verifyPort: number;
  let mutualPort: number;
  const apps: AppProcess[] = [];
  const forwarders: CountingForwarder[] = [];
  const tag = randomBytes(2).toString('hex');

  beforeAll(async () => {
    certs = TlsCerts.make();
    verifyPort = await freePort();
    mutualPort = await freePort();
    const started = await Promise.allSettled([
      PrivateNode.start({ name: `fibrpctls${tag}v`, config: tlsConfig(certs, verifyPort, false) }),
      PrivateNode.start({
        name: `fibrpctls${tag}m`,
        config: tlsConfig(certs, mutualPort, true),
        plugins: ['rabbitmq_auth_mechanism_ssl'],
      }),
    ]);
    if (started[0].status === 'fulfilled') verify = started[0].value;
    if (started[1].status === 'fulfilled') mutual = started[1].value;
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    // EXTERNAL logs in as the client certificate's CN: that user must exist (its password is never used).
    await mutual.ctl('add_user', certs.clientName, randomBytes(12).toString('hex'));
    await mutual.ctl('set_permissions', '-p', '/', certs.clientName, '.*', '.*', '.*');
    console.log(`TLS nodes booted in ${verify.bootMs} ms and ${mutual.bootMs} ms`);
  }, 150_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
    await Promise.all(forwarders.splice(0).map((forwarder) => forwarder.stop()));
  });

  afterAll(async () => {
    await Promise.allSettled([verify?.stop(), mutual?.stop()]);
    certs?.remove();
  }, 60_000);

  async function forwarderTo(port: number): Promise<CountingForwarder> {
    const forwarder = await CountingForwarder.start(port);
    forwarders.push(forwarder);
    return forwarder;
  }

  it('CA given (AMQP_CA_FILE): both apps work over amqps://localhost and amqps://127.0.0.1, no DEP0123', async () => {
    const pair = await startPair(
      { AMQP_CA_FILE: certs.ca },
      { AMQP_URL: `amqps://guest:guest@localhost:${verifyPort}` },
      // an IP address: verified against the certificate's SAN IP:127.0.0.1, and no TLS server name sent
      { AMQP_URL: `amqps://guest:guest@127.0.0.1:${verifyPort}` },
      apps,
    );
    await expectWorks(pair);
  }, 90_000);

  it('CA missing: one clear line (certificate verify failure), 503s, retries, no crash', async () => {
    const forwarder = await forwarderTo(verifyPort);
    const url = `amqps://guest:guest@localhost:${forwarder.port}`;
    const pair = await startPair({ AMQP_URL: url }, {}, {}, apps);
    await expectRefusedCleanly(
      pair,
      forwarder,
      /TLS: the broker's certificate is not trusted \(.*\): give its CA in AMQP_CA_FILE/,
    );
  }, 90_000);

  it('a host name the certificate does not list: one clear line (host name check), 503s, retries, no crash', async () => {
    const forwarder = await forwarderTo(verifyPort);
    // "127.1" resolves to 127.0.0.1 but is neither DNS:localhost nor IP:127.0.0.1 of the certificate
    const pair = await startPair(
      { AMQP_URL: `amqps://guest:guest@127.1:${forwarder.port}`, AMQP_CA_FILE: certs.ca },
      {},
      {},
      apps,
    );
    await expectRefusedCleanly(
      pair,
      forwarder,
      /TLS: the broker's certificate does not name the host of the URL \(.*ERR_TLS_CERT_ALTNAME_INVALID\)/,
      '127.1',
    );
  }, 90_000);

  it('mutual TLS required: works with the client certificate (AMQP_CERT_FILE/AMQP_KEY_FILE)', async () => {
    const pair = await startPair(
      {
        AMQP_URL: `amqps://guest:guest@localhost:${mutualPort}`,
        AMQP_CA_FILE: certs.ca,
        AMQP_CERT_FILE: certs.client.cert,
        AMQP_KEY_FILE: certs.client.key,
      },
      {},
      {},
      apps,
    );
    await expectWorks(pair);
  }, 90_000);

  it('mutual TLS required: a client certificate of an untrusted CA is refused cleanly', async () => {
    const forwarder = await forwarderTo(mutualPort);
    const pair = await startPair(
      {
        AMQP_URL: `amqps://guest:guest@localhost:${forwarder.port}`,
        AMQP_CA_FILE: certs.ca,
        AMQP_CERT_FILE: certs.untrustedClient.cert,
        AMQP_KEY_FILE: certs.untrustedClient.key,
      },
      {},
      {},
      apps,
    );
    await expectRefusedCleanly(
      pair,
      forwarder,
      /TLS: the broker refused the TLS handshake \(tlsv1 alert unknown ca, ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\): the certificate of AMQP_CERT_FILE must be signed by a CA the broker trusts/,
    );
  }, 90_000);

  it('mutual TLS required: no client certificate is refused cleanly', async () => {
    const forwarder = await forwarderTo(mutualPort);
    const pair = await startPair(
      { AMQP_URL: `amqps://guest:guest@localhost:${forwarder.port}`, AMQP_CA_FILE: certs.ca },
      {},
      {},
      apps,
    );
    await expectRefusedCleanly(
      pair,
      forwarder,
      /TLS: the broker requires a client certificate \(.*\): set AMQP_CERT_FILE and AMQP_KEY_FILE/,
    );
  }, 90_000);

  it('EXTERNAL login (AMQP_AUTH=external, no password in the URL): the broker sees the certificate CN', async () => {
    const pair = await startPair(
      {
        AMQP_URL: `amqps://localhost:${mutualPort}`,
        AMQP_AUTH: 'external',
        AMQP_CA_FILE: certs.ca,
        AMQP_CERT_FILE: certs.client.cert,
        AMQP_KEY_FILE: certs.client.key,
      },
      {},
      {},
      apps,
    );
    await expectWorks(pair);
    const connections = JSON.parse(
      await mutual.ctl('list_connections', 'user', 'ssl', 'auth_mechanism', '--formatter', 'json'),
    ) as { user: string; ssl: boolean; auth_mechanism: string }[];
    const external = connections.filter((c) => c.auth_mechanism === 'EXTERNAL');
    expect(external.length).toBeGreaterThanOrEqual(2);
    expect(external.every((c) => c.user === certs.clientName && c.ssl)).toBe(true);
  }, 90_000);
});
