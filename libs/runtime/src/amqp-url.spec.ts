import { connect } from 'amqplib';
import { unescape as qsUnescape } from 'node:querystring';
import { inspect } from 'node:util';
import { describeEndpoint, parseAmqpUrlList, redactUrl, toConnectOptions } from './amqp-url';
import { ConfigError } from './env.config';

const BROKER_HOST = '127.0.0.1';

/** The ConfigError `fn` throws; fails the test if it throws nothing or something else. */
function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** Marker-framed passwords: no marker may show up anywhere, so a partial leak is caught too. */
const MARKERS = ['XQZ1', 'XQZ2'];
const NASTY_PARTS = [
  '@',
  '@@',
  '%40',
  ':',
  '::',
  ',',
  ', ',
  ',amqp://',
  ' amqp://',
  ';amqp://',
  ',amqps://',
  '/',
  '@h/',
  '?',
  '#',
  ';',
  ' ',
  '\n',
  '\t',
  '%',
  '%ZZ',
  '%2C',
  '%E0%A4%A',
  '://',
  '"',
  '\\',
  "'",
  '*',
  '***',
  '&heartbeat=1',
  '[',
  ']',
  '$',
  '=',
  '+',
  'é',
  '✓',
  '\u2028',
];
const NASTY_PASSWORDS = NASTY_PARTS.flatMap((part) => [`XQZ1${part}XQZ2`, `${part}XQZ1`, `XQZ1${part}`]);

/** Values that hold the password and are invalid whatever it is. */
const invalidValuesWith = (password: string): string[] => [
  `ampq://guest:${password}@broker:5672`,
  `amqp://guest:${password}@broker:5672,broker2:5672`,
  `amqp://a:5672,amqp://guest:${password}@broker:5672,nope`,
  `amqp://guest:${password}@broker:notaport/vh`,
  `guest:${password}@broker:5672`,
  `amqp://guest:${password}@broker:5672/vh?channelMax=1`,
  `amqp://guest:${password}@broker:5672 amqp://other:5672`,
];

const hasMarker = (text: string): boolean => MARKERS.some((marker) => text.includes(marker));

function expectNoMarker(text: string): void {
  for (const marker of MARKERS) expect(text).not.toContain(marker);
}

describe('parseAmqpUrlList', () => {
  it('returns the entries of a comma-separated list, whitespace around the commas trimmed', () => {
    expect(parseAmqpUrlList(' amqp://a:5672 ,\tamqps://u:p@b:5671/vh,amqp://[::1] ', 'AMQP_URL')).toEqual([
      'amqp://a:5672',
      'amqps://u:p@b:5671/vh',
      'amqp://[::1]',
    ]);
  });

  it.each([
    'amqp://localhost',
    'AMQP://Localhost:5672',
    'amqps://broker.example.com',
    'amqp://u@h',
    'amqp://u:@h',
    'amqp://:p@h',
    'amqp://guest:hunter@2@host',
    'amqp://guest:pa:ss@host',
    'amqp://u%40x:p%40ss%2C%2F%3F%23@h:1/v%2Fh',
    'amqp://h:65535/',
    'amqp://h:/',
    'amqp://rabbit_1.internal-net:5672/%2F',
    'amqp://10.0.0.1:5672',
    'amqp://[fe80::1]:5672/vh',
    'amqp://h?heartbeat=0&frameMax=131072',
    'amqp://h/vh?',
  ])('accepts %p', (url) => {
    expect(parseAmqpUrlList(url, 'AMQP_URL')).toEqual([url]);
  });

  it.each([
    ['second entry without a scheme (the issue-11 case)', 'amqp://u:p@h1,h2:5701'],
    ['a space-separated list', 'amqp://a:5672 amqp://b:5672'],
    ['a semicolon-separated list', 'amqp://a:5672;amqp://b:5672'],
    ['a semicolon and a space', 'amqp://a:5672; amqp://b:5672'],
    ['an empty entry', 'amqp://a,,amqp://b'],
    ['a blank entry', 'amqp://a, ,amqp://b'],
    ['a trailing comma', 'amqp://a,'],
    ['a leading comma', ',amqp://a'],
    ['an empty value', ''],
    ['a blank value', '  \n'],
    ['another scheme', 'http://localhost'],
    ['a misspelt scheme', 'ampq://localhost'],
    ['no scheme', 'localhost:5672'],
    ['one slash', 'amqp:/localhost'],
    ['no host', 'amqp://'],
    ['no host, a port', 'amqp://:5672'],
    ['no host after credentials', 'amqp://u:p@'],
    ['port 0', 'amqp://h:0'],
    ['port too large', 'amqp://h:65536'],
    ['a port with letters', 'amqp://h:56x2'],
    ['a negative port', 'amqp://h:-1'],
    ['IPv6 without brackets', 'amqp://::1'],
    ['a bad IPv6 literal', 'amqp://[::g]:5672'],
    ['an unclosed IPv6 literal', 'amqp://[::1:5672'],
    ['junk after an IPv6 literal', 'amqp://[::1]x'],
    ['a bad host character', 'amqp://h!st:5672'],
    ['a bad escape in the user', 'amqp://u%G1:p@h'],
    ['a bad escape in the password', 'amqp://u:p%Z@h'],
    ['a truncated escape in the password', 'amqp://u:p%4@h'],
    ['an escape that is not UTF-8', 'amqp://u:%FF@h'],
    ['a bad escape in the vhost', 'amqp://h/%GG'],
    ['an unencoded "/" in the vhost', 'amqp://h/a/b'],
    ['an "@" after the host (unencoded "/" in a password)', 'amqp://u:p/q@h'],
    ['an "@" in the vhost', 'amqp://h/v@x'],
    ['a fragment', 'amqp://h/vh#frag'],
    ['whitespace inside', 'amqp://ho st'],
    ['a control character', 'amqp://h\u0000'],
    ['a non-numeric heartbeat', 'amqp://h?heartbeat=soon'],
    ['a heartbeat over 3600', 'amqp://h?heartbeat=3601'],
    ['a frameMax under the protocol minimum', 'amqp://h?frameMax=100'],
    ['an empty frameMax', 'amqp://h?frameMax='],
    ['an unsupported parameter', 'amqp://h?channelMax=1'],
    ['a parameter given twice', 'amqp://h?heartbeat=1&heartbeat=2'],
    ['one bad entry among good ones', 'amqp://a,amqp://b:99999,amqp://c'],
  ])('rejects %s with a one-line ConfigError naming the variable', (_case, value) => {
    const error = configErrorOf(() => parseAmqpUrlList(value, 'SOME_URLS'));
    expect(error.variable).toBe('SOME_URLS');
    expect(error.message).toContain('SOME_URLS');
    expect(error.message).not.toMatch(/[\r\n\u2028\u2029]/);
  });

  it.each(NASTY_PASSWORDS.map((password) => [JSON.stringify(password), password]))(
    'never shows any part of the password %s in its error (message, value, inspect)',
    (_shown, password) => {
      const leaks = invalidValuesWith(password).filter((value) => {
        const error = configErrorOf(() => parseAmqpUrlList(value, 'AMQP_URL'));
        expect(error.variable).toBe('AMQP_URL');
        expect(error.message).toContain('AMQP_URL');
        return hasMarker(`${error.message} ${String(error.value)} ${inspect(error)}`);
      });
      expect(leaks).toEqual([]);
    },
  );
});

describe('toConnectOptions', () => {
  it('gives amqplib defaults: port 5672 for amqp, 5671 for amqps, no credentials (guest), default vhost', () => {
    expect(toConnectOptions('amqp://h')).toEqual({ protocol: 'amqp', hostname: 'h', port: 5672, vhost: '' });
    expect(toConnectOptions('amqps://h')).toEqual({ protocol: 'amqps', hostname: 'h', port: 5671, vhost: '' });
    expect(toConnectOptions('AMQPS://H:1234')).toEqual({ protocol: 'amqps', hostname: 'H', port: 1234, vhost: '' });
  });

  it('decodes user name and password itself (amqplib does not in object form)', () => {
    expect(toConnectOptions('amqps://u%40x:p%40ss%3Aw%2Fd%2C%25@[::1]:5700/vh?heartbeat=7&frameMax=8192')).toEqual({
      protocol: 'amqps',
      hostname: '::1',
      port: 5700,
      username: 'u@x',
      password: 'p@ss:w/d,%',
      vhost: 'vh',
      heartbeat: 7,
      frameMax: 8192,
    });
    expect(toConnectOptions('amqp://u:%C3%A9%E2%9C%93@h').password).toBe('é✓');
  });

  it('reads an unencoded "@" or ":" in the password the way a URL parser does (up to the last "@")', () => {
    expect(toConnectOptions('amqp://guest:hunter@2@host')).toMatchObject({
      username: 'guest',
      password: 'hunter@2',
      hostname: 'host',
    });
    expect(toConnectOptions('amqp://guest:a:b@host')).toMatchObject({ username: 'guest', password: 'a:b' });
  });

  it('treats a user without password as an empty password, and an empty user and password as none', () => {
    expect(toConnectOptions('amqp://u@h')).toMatchObject({ username: 'u', password: '' });
    expect(toConnectOptions('amqp://:@h')).not.toHaveProperty('username');
  });

  it('gives the vhost in the form amqplib decodes to the intended name', () => {
    expect(qsUnescape(toConnectOptions('amqp://h/%2F').vhost)).toBe('/');
    expect(qsUnescape(toConnectOptions('amqp://h/a%2Fb%25c%2Bd').vhost)).toBe('a/b%c+d');
    expect(qsUnescape(toConnectOptions('amqp://h/a+b').vhost)).toBe('a+b');
    expect(toConnectOptions('amqp://h/').vhost).toBe('');
  });

  it('throws a ConfigError without the password for an invalid URL', () => {
    const error = configErrorOf(() => toConnectOptions('ampq://guest:XQZ1@broker'));
    expect(error.variable).toBe('AMQP_URL');
    expectNoMarker(error.message);
    expect(configErrorOf(() => toConnectOptions('amqp://h:0', 'AMQP_URL_FILE')).variable).toBe('AMQP_URL_FILE');
  });

  it('is accepted by amqplib: connects to the local broker with the object form', async () => {
    const connection = await connect(toConnectOptions(`amqp://guest:guest@${BROKER_HOST}:5672/%2F?heartbeat=7`), {
      timeout: 5000,
    });
    try {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      expect(queue).toMatch(/^amq\.gen-/);
    } finally {
      await connection.close();
    }
  });
});

describe('describeEndpoint', () => {
  it.each([
    ['amqp://guest:secret@broker:5700/vh', 'amqp://broker:5700/vh'],
    ['amqps://u:p@broker', 'amqps://broker:5671/'],
    ['amqp://broker', 'amqp://broker:5672/'],
    ['amqp://broker/%2F', 'amqp://broker:5672/'],
    ['amqp://broker/%2f', 'amqp://broker:5672/'],
    ['amqp://u:p@[::1]:5672/a%2Fb?heartbeat=5', 'amqp://[::1]:5672/a%2Fb'],
    ['amqp://guest:hunter@2@host', 'amqp://host:5672/'],
  ])('describes %p as %p', (url, endpoint) => {
    expect(describeEndpoint(url)).toBe(endpoint);
  });

  it.each(NASTY_PASSWORDS.map((password) => [JSON.stringify(password), password]))(
    'shows no part of the password %s',
    (_shown, password) => {
      const values = [`amqp://guest:${password}@broker:5672`, ...invalidValuesWith(password)];
      expect(values.filter((value) => hasMarker(describeEndpoint(value)))).toEqual([]);
    },
  );
});

describe('redactUrl', () => {
  it.each([
    ['amqp://guest:secret@host:5672/vh', 'amqp://guest:***@host:5672/vh'],
    ['amqp://guest:hunter@2@host', 'amqp://guest:***@host'],
    ['amqp://u:p1@h1,amqp://v:p2@h2:5673/vh', 'amqp://u:***@h1,amqp://v:***@h2:5673/vh'],
    ['amqp://u:p1@h1 amqps://v:p2@h2', 'amqp://u:***@h1 amqps://v:***@h2'],
    ['ampq://guest:TopSecret@broker:5672', 'ampq://guest:***@broker:5672'],
    ['amqp://u:pa,ss@h', 'amqp://u:***@h'],
    ['cannot connect to amqp://u:pw@h:5672: ECONNREFUSED', 'cannot connect to amqp://u:***@h:5672: ECONNREFUSED'],
  ])('redacts %p as %p', (text, redacted) => {
    expect(redactUrl(text)).toBe(redacted);
  });

  it.each([
    'amqp://host:5672/vh',
    'amqp://user@host',
    'amqp://[::1]:5672',
    'amqp://a:5672,amqp://b:5673,amqp://c',
    'amqp://h?heartbeat=5',
    'no URL here',
    '',
  ])('leaves %p, which holds no password, as it is', (text) => {
    expect(redactUrl(text)).toBe(text);
  });

  it.each(NASTY_PASSWORDS.map((password) => [JSON.stringify(password), password]))(
    'shows no part of the password %s, alone, in a list, in a log line or in an invalid value',
    (_shown, password) => {
      const values = [
        `amqp://guest:${password}@broker:5672`,
        `amqps://guest:${password}@broker:5671/vh,amqp://other:${password}@other:5672`,
        `cannot connect to amqp://guest:${password}@broker:5672: ECONNREFUSED`,
        ...invalidValuesWith(password),
      ];
      expect(values.filter((value) => hasMarker(redactUrl(value)))).toEqual([]);
    },
  );
});
