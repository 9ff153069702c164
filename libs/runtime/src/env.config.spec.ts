import { CONFIG_DEFAULTS, ConfigError, loadConfig } from './env.config';

function variableOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.variable;
    throw error;
  }
  return 'none';
}

describe('loadConfig', () => {
  it('gives the contract defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual(CONFIG_DEFAULTS);
    expect(CONFIG_DEFAULTS.rpcQueue).toBe('rpc_queue');
    expect(CONFIG_DEFAULTS.rpcTimeoutMs).toBe(5000);
    expect(CONFIG_DEFAULTS.fibMaxN).toBe(100_000);
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        AMQP_URL: 'amqps://u:p@broker:5671/vh',
        RPC_QUEUE: 'q1',
        RPC_TIMEOUT_MS: '250',
        RPC_MAX_IN_FLIGHT: '10',
        RPC_REPLY_MODE: 'direct',
        FIB_MAX_N: '50',
        WORKER_PREFETCH: '4',
        PORT: '8080',
        WORKER_HTTP_PORT: '0',
        LOG_LEVEL: 'debug',
      }),
    ).toEqual({
      amqpUrl: 'amqps://u:p@broker:5671/vh',
      rpcQueue: 'q1',
      rpcTimeoutMs: 250,
      rpcMaxInFlight: 10,
      rpcReplyMode: 'direct',
      fibMaxN: 50,
      workerPrefetch: 4,
      port: 8080,
      workerHttpPort: 0,
      logLevel: 'debug',
    });
  });

  it.each([
    ['RPC_TIMEOUT_MS', 'soon'],
    ['RPC_TIMEOUT_MS', '0'],
    ['RPC_TIMEOUT_MS', '1.5'],
    ['RPC_MAX_IN_FLIGHT', '-3'],
    ['FIB_MAX_N', '1e5'],
    ['WORKER_PREFETCH', '0'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['RPC_REPLY_MODE', 'carrier-pigeon'],
    ['AMQP_URL', 'http://localhost'],
    ['AMQP_URL', 'not a url'],
    ['RPC_QUEUE', 'amq.reserved'],
  ])('names %s when it is %p', (variable, value) => {
    expect(variableOf({ [variable]: value })).toBe(variable);
  });

  it('puts the variable in a one-line message', () => {
    expect(() => loadConfig({ RPC_TIMEOUT_MS: 'soon' })).toThrow(/^invalid RPC_TIMEOUT_MS="soon": [^\n]+$/);
  });
});
