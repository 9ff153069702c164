import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CONFIG_DEFAULTS, ConfigError, loadConfig } from './env.config';

type Env = Record<string, string>;

function variableOf(env: Env): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.variable;
    throw error;
  }
  return 'none';
}

/** The ConfigError loadConfig throws for `env`; fails the test if it throws nothing or something else. */
function configErrorOf(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, loadConfig returned');
}

const ONE_LINE = /^[^\r\n\u0085\u2028\u2029]+$/;

describe('loadConfig', () => {
  it('gives the contract defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual(CONFIG_DEFAULTS);
    expect(CONFIG_DEFAULTS.amqpUrls).toEqual(['amqp://guest:guest@localhost:5672']);
    expect(CONFIG_DEFAULTS.amqpHeartbeatS).toBe(5);
    expect(CONFIG_DEFAULTS.amqpConnectTimeoutMs).toBe(3000);
    expect(CONFIG_DEFAULTS.amqpTls).toEqual({});
    expect(CONFIG_DEFAULTS.amqpAuth).toBe('plain');
    expect(CONFIG_DEFAULTS.rpcQueue).toBe('rpc_queue');
    expect(CONFIG_DEFAULTS.rpcQueueType).toBe('quorum');
    expect(CONFIG_DEFAULTS.rpcTimeoutMs).toBe(5000);
    expect(CONFIG_DEFAULTS.fibMaxN).toBe(100_000);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ AMQP_URL: '', AMQP_URL_FILE: '', AMQP_HEARTBEAT_S: '', AMQP_CA_FILE: '' })).toEqual(
      CONFIG_DEFAULTS,
    );
  });

  it('reads every variable without a file', () => {
    expect(
      loadConfig({
        AMQP_URL: 'amqps://u:p@broker:5671/vh , amqp://other',
        AMQP_HEARTBEAT_S: '0',
        AMQP_CONNECT_TIMEOUT_MS: '600000',
        AMQP_AUTH: 'plain',
        RPC_QUEUE: 'q1',
        RPC_QUEUE_TYPE: 'classic',
        RPC_TIMEOUT_MS: '250',
        RPC_MAX_IN_FLIGHT: '10',
        RPC_FAILOVER_HOLD_MS: '0',
        RPC_REPLY_MODE: 'direct',
        FIB_MAX_N: '50',
        WORKER_PREFETCH: '4',
        PORT: '8080',
        WORKER_HTTP_PORT: '0',
        LOG_LEVEL: 'debug',
      }),
    ).toEqual({
      amqpUrls: ['amqps://u:p@broker:5671/vh', 'amqp://other'],
      amqpHeartbeatS: 0,
      amqpConnectTimeoutMs: 600_000,
      amqpTls: {},
      amqpAuth: 'plain',
      rpcQueue: 'q1',
      rpcQueueType: 'classic',
      rpcTimeoutMs: 250,
      rpcMaxInFlight: 10,
      rpcFailoverHoldMs: 0,
      rpcReplyMode: 'direct',
      fibMaxN: 50,
      workerPrefetch: 4,
      port: 8080,
      workerHttpPort: 0,
      logLevel: 'debug',
    });
  });

  it.each([
    ['AMQP_HEARTBEAT_S', '3600', { amqpHeartbeatS: 3600 }],
    ['AMQP_CONNECT_TIMEOUT_MS', '100', { amqpConnectTimeoutMs: 100 }],
    ['RPC_QUEUE_TYPE', 'quorum', { rpcQueueType: 'quorum' }],
    ['RPC_QUEUE_TYPE', 'transient', { rpcQueueType: 'transient' }],
  ])('accepts %s=%p', (variable, value, expected) => {
    expect(loadConfig({ [variable]: value })).toMatchObject(expected);
  });

  it.each([
    ['RPC_TIMEOUT_MS', 'soon'],
    ['RPC_TIMEOUT_MS', '0'],
    ['RPC_TIMEOUT_MS', '1.5'],
    ['RPC_MAX_IN_FLIGHT', '-3'],
    ['RPC_FAILOVER_HOLD_MS', '60001'],
    ['FIB_MAX_N', '1e5'],
    ['WORKER_PREFETCH', '0'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['RPC_REPLY_MODE', 'carrier-pigeon'],
    ['RPC_QUEUE', 'amq.reserved'],
    ['AMQP_HEARTBEAT_S', 'abc'],
    ['AMQP_HEARTBEAT_S', '-1'],
    ['AMQP_HEARTBEAT_S', '3601'],
    ['AMQP_HEARTBEAT_S', '2.5'],
    ['AMQP_HEARTBEAT_S', ' 5'],
    ['AMQP_CONNECT_TIMEOUT_MS', '99'],
    ['AMQP_CONNECT_TIMEOUT_MS', '600001'],
    ['AMQP_CONNECT_TIMEOUT_MS', '3s'],
    ['RPC_QUEUE_TYPE', 'lazy'],
    ['RPC_QUEUE_TYPE', 'Quorum'],
    ['AMQP_AUTH', 'kerberos'],
    ['AMQP_AUTH', 'EXTERNAL'],
    ['AMQP_URL', 'http://localhost'],
    ['AMQP_URL', 'not a url'],
    ['AMQP_URL', 'amqp://u:p@h1,h2:5701'],
    ['AMQP_URL', 'amqp://a:5672 amqp://b:5672'],
    ['AMQP_URL', 'amqp://a:5672;amqp://b:5672'],
    ['AMQP_URL', 'amqp://a,,amqp://b'],
    ['AMQP_URL', 'amqp://a,'],
    ['AMQP_URL', '   '],
    ['AMQP_URL', 'amqp://h:99999'],
  ])('names %s when it is %p', (variable, value) => {
    expect(variableOf({ [variable]: value })).toBe(variable);
  });

  it('puts the variable in a one-line message', () => {
    expect(() => loadConfig({ RPC_TIMEOUT_MS: 'soon' })).toThrow(/^invalid RPC_TIMEOUT_MS="soon": [^\n]+$/);
  });

  it.each(
    [
      ['LOG_LEVEL', 'a\nb'],
      ['LOG_LEVEL', 'a\r\nb'],
      ['LOG_LEVEL', 'a\u2028b\u2029c\u0085d'],
      ['AMQP_URL', 'amqp://h1\namqp://h2'],
      ['AMQP_URL', 'amqp://u:p\u2028w@h,x'],
    ].map(([variable, value]) => [variable, JSON.stringify(value), value]),
  )('keeps the message for %s=%s on one line', (variable, _shown, value) => {
    const error = configErrorOf({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(ONE_LINE);
  });

  it.each([
    'ampq://guest:TopSecret@broker:5672',
    'amqp://guest:Top@Secret@broker:notaport',
    'amqp://guest:Top%40Secret@broker:5672,broker2',
    'amqp://guest:Top:Secret@broker:5672/vh?channelMax=1',
    'amqp://guest:Top,Secret@broker:5672',
    'amqp://guest:Top,amqp://Secret@broker:5672,nope',
    'amqp://a:5672, amqp://guest:TopSecret@b:5672 ,amqp://c:0',
    'guest:TopSecret@broker:5672',
  ])('never shows the password of AMQP_URL=%p', (value) => {
    const error = configErrorOf({ AMQP_URL: value });
    expect(error.variable).toBe('AMQP_URL');
    expect(error.message).toContain('AMQP_URL');
    for (const text of [error.message, String(error.value), inspect(error)]) {
      expect(text).not.toContain('Top');
      expect(text).not.toContain('Secret');
    }
  });
});

describe('loadConfig with files', () => {
  let dir: string;
  const path = (name: string): string => join(dir, name);
  const write = (name: string, content: string | Buffer): string => {
    writeFileSync(path(name), content);
    return path(name);
  };
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
  };
  const selfSigned = (name: string): void =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    );

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fib-rpc-config-'));
    selfSigned('ca1');
    selfSigned('ca2');
    selfSigned('client');
    openssl('pkey', '-in', 'client.key', '-aes256', '-passout', 'pass:pw', '-out', 'client.enc.key');
    openssl('x509', '-in', 'ca1.pem', '-outform', 'DER', '-out', 'ca1.der');
    write('bundle.pem', Buffer.concat([readFileSync(path('ca1.pem')), readFileSync(path('ca2.pem'))]));
    write('chain.pem', Buffer.concat([readFileSync(path('client.pem')), readFileSync(path('ca1.pem'))]));
    write(
      'corrupt-bundle.pem',
      `${readFileSync(path('ca1.pem'), 'utf8')}-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n`,
    );
    write('garbage.txt', 'TopSecretKeyMaterial\n');
    mkdirSync(path('a-directory'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('AMQP_URL_FILE', () => {
    it('wins over AMQP_URL (even an invalid one); trailing newlines and whitespace are ignored', () => {
      const file = write('url-lf', 'amqps://u:p@h1:5671/vh,amqps://u:p@h2:5671/vh\n\n  \t');
      expect(loadConfig({ AMQP_URL_FILE: file, AMQP_URL: 'not a url' }).amqpUrls).toEqual([
        'amqps://u:p@h1:5671/vh',
        'amqps://u:p@h2:5671/vh',
      ]);
      expect(loadConfig({ AMQP_URL_FILE: write('url-crlf', 'amqp://u:p@h\r\n') }).amqpUrls).toEqual(['amqp://u:p@h']);
    });

    it.each([
      ['a missing file', 'no-such-file'],
      ['a directory', 'a-directory'],
    ])('is a ConfigError naming AMQP_URL_FILE and its path for %s', (_case, name) => {
      const error = configErrorOf({ AMQP_URL_FILE: path(name), AMQP_URL: 'amqp://fallback' });
      expect(error.variable).toBe('AMQP_URL_FILE');
      expect(error.value).toBe(path(name));
      expect(error.message).toContain(path(name));
      expect(error.message).toMatch(ONE_LINE);
    });

    it.each([
      ['empty', ''],
      ['blank', '\n \n'],
      ['one URL per line', 'amqp://h1\namqp://h2\n'],
      ['an entry without a scheme', 'amqp://u:p@h1,h2:5701\n'],
    ])('rejects content that is %s, naming AMQP_URL_FILE', (_case, content) => {
      const error = configErrorOf({ AMQP_URL_FILE: write('bad-url', content) });
      expect(error.variable).toBe('AMQP_URL_FILE');
      expect(error.message).toContain('AMQP_URL_FILE');
      expect(error.message).toMatch(ONE_LINE);
    });

    it.each(
      [
        'ampq://guest:TopSecret@broker:5672\n',
        'amqp://guest:Top@Secret@broker:5672,broker2\n',
        'amqp://guest:Top,Secret@broker:5672\n',
        'amqp://guest:Top%40Secret@broker:5672/a/b\n',
        'amqp://guest:Top:Secret@broker:5672\namqp://other\n',
      ].map((content) => [JSON.stringify(content), content]),
    )('never shows the password of the content %s', (_shown, content) => {
      const error = configErrorOf({ AMQP_URL_FILE: write('secret-url', content) });
      expect(error.variable).toBe('AMQP_URL_FILE');
      expect(error.message).toContain('AMQP_URL_FILE');
      for (const text of [error.message, String(error.value), inspect(error)]) {
        expect(text).not.toContain('Top');
        expect(text).not.toContain('Secret');
      }
    });
  });

  describe('TLS files', () => {
    it('reads the CA bundle (several certificates), the client chain and its key into Buffers', () => {
      const config = loadConfig({
        AMQP_URL: 'amqps://broker',
        AMQP_CA_FILE: path('bundle.pem'),
        AMQP_CERT_FILE: path('chain.pem'),
        AMQP_KEY_FILE: path('client.key'),
      });
      expect(config.amqpTls.ca).toEqual(readFileSync(path('bundle.pem')));
      expect(config.amqpTls.cert).toEqual(readFileSync(path('chain.pem')));
      expect(config.amqpTls.key).toEqual(readFileSync(path('client.key')));
      expect(config.amqpAuth).toBe('plain');
    });

    it('accepts a CA file alone', () => {
      expect(loadConfig({ AMQP_CA_FILE: path('ca1.pem') }).amqpTls).toEqual({ ca: readFileSync(path('ca1.pem')) });
    });

    it.each([
      ['AMQP_CA_FILE', { AMQP_CA_FILE: 'no-such-file' }],
      ['AMQP_CA_FILE', { AMQP_CA_FILE: 'a-directory' }],
      ['AMQP_CA_FILE', { AMQP_CA_FILE: 'garbage.txt' }],
      ['AMQP_CA_FILE', { AMQP_CA_FILE: 'ca1.der' }],
      ['AMQP_CA_FILE', { AMQP_CA_FILE: 'corrupt-bundle.pem' }],
      ['AMQP_CA_FILE', { AMQP_CA_FILE: 'ca1.key' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem' }],
      ['AMQP_CERT_FILE', { AMQP_KEY_FILE: 'client.key' }],
      ['AMQP_CERT_FILE', { AMQP_CERT_FILE: 'no-such-file', AMQP_KEY_FILE: 'client.key' }],
      ['AMQP_CERT_FILE', { AMQP_CERT_FILE: 'client.key', AMQP_KEY_FILE: 'client.key' }],
      ['AMQP_CERT_FILE', { AMQP_CERT_FILE: 'corrupt-bundle.pem', AMQP_KEY_FILE: 'ca1.key' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem', AMQP_KEY_FILE: 'no-such-file' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem', AMQP_KEY_FILE: 'a-directory' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem', AMQP_KEY_FILE: 'garbage.txt' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem', AMQP_KEY_FILE: 'client.pem' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem', AMQP_KEY_FILE: 'client.enc.key' }],
      ['AMQP_KEY_FILE', { AMQP_CERT_FILE: 'client.pem', AMQP_KEY_FILE: 'ca2.key' }],
    ])('names %s for %p', (variable, files: Env) => {
      const env = Object.fromEntries(Object.entries(files).map(([name, file]) => [name, path(file)]));
      const error = configErrorOf({ AMQP_URL: 'amqps://broker', ...env });
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(variable);
      expect(error.message).toMatch(ONE_LINE);
    });

    it('never shows what is in a key file', () => {
      const error = configErrorOf({ AMQP_CERT_FILE: path('client.pem'), AMQP_KEY_FILE: path('garbage.txt') });
      expect(error.variable).toBe('AMQP_KEY_FILE');
      expect(inspect(error)).not.toContain('TopSecret');
    });
  });

  describe('AMQP_AUTH', () => {
    const clientFiles = (): Env => ({ AMQP_CERT_FILE: path('client.pem'), AMQP_KEY_FILE: path('client.key') });

    it('external logs in by the client certificate over amqps://', () => {
      const config = loadConfig({ AMQP_AUTH: 'external', AMQP_URL: 'amqps://a,amqps://b:5671', ...clientFiles() });
      expect(config.amqpAuth).toBe('external');
      expect(config.amqpTls.cert).toEqual(readFileSync(path('client.pem')));
    });

    it.each([
      ['without a client certificate and key', (): Env => ({ AMQP_URL: 'amqps://a' })],
      ['with only a CA file', (): Env => ({ AMQP_URL: 'amqps://a', AMQP_CA_FILE: path('ca1.pem') })],
      ['with the default amqp:// URL', (): Env => clientFiles()],
      ['with an amqp:// entry in the list', (): Env => ({ AMQP_URL: 'amqps://a,amqp://b', ...clientFiles() })],
    ])('external is a ConfigError naming AMQP_AUTH %s', (_case, env) => {
      const error = configErrorOf({ AMQP_AUTH: 'external', ...env() });
      expect(error.variable).toBe('AMQP_AUTH');
      expect(error.message).toContain('AMQP_AUTH');
    });
  });
});
