import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { BrokerLink } from './broker-link';
import { BrokerLinkOptions } from './broker-link.interfaces';

/** A promise the test settles when it chooses, so every ordering of events can be written down. */
class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** A connection double: closing it emits 'close', as amqplib does; `drop()` is the broker going away. */
class FakeConnection extends EventEmitter {
  closed = false;

  constructor(readonly url: string) {
    super();
  }

  close(): Promise<void> {
    this.drop();
    return Promise.resolve();
  }

  drop(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (error) this.emit('error', error);
    this.emit('close', error);
  }
}

interface Session {
  connection: FakeConnection;
}

/** Drives a BrokerLink whose connects and set-ups each wait for the test. */
class Harness {
  readonly connects: { url: string; result: Deferred<FakeConnection> }[] = [];
  readonly setups: { connection: FakeConnection; result: Deferred<Session> }[] = [];
  readonly ups: Session[] = [];
  readonly downs: [Session, string][] = [];
  readonly warnings: string[] = [];
  readonly link: BrokerLink<Session>;

  constructor(overrides: Partial<BrokerLinkOptions<Session>> = {}) {
    this.link = new BrokerLink<Session>({
      urls: ['amqp://a:5672', 'amqp://b:5672', 'amqp://c:5672'],
      connectionName: 'test',
      heartbeatS: 5,
      connectTimeoutMs: 60_000,
      reconnectDelayMs: [10, 10],
      random: () => 0.999, // keeps the listed order
      logger: { log: () => undefined, warn: (line) => this.warnings.push(line) },
      connect: (url) => {
        const result = new Deferred<FakeConnection>();
        this.connects.push({ url, result });
        return result.promise as unknown as Promise<ChannelModel>;
      },
      setup: (connection) => {
        const result = new Deferred<Session>();
        this.setups.push({ connection: connection as unknown as FakeConnection, result });
        return result.promise;
      },
      onUp: (session) => this.ups.push(session),
      onDown: (session, reason) => this.downs.push([session, reason]),
      ...overrides,
    });
  }

  /** Lets the fake connect resolve, and returns its connection. */
  async connected(index: number): Promise<FakeConnection> {
    await until(() => this.connects.length > index);
    const connection = new FakeConnection(this.connects[index].url);
    this.connects[index].result.resolve(connection);
    await until(() => this.setups.length > index);
    return connection;
  }

  /** Fails every connect and set-up still waiting, so close() has no attempt left to wait for. */
  release(): void {
    for (const { result } of this.connects) result.reject(new Error('test over'));
    for (const { result } of this.setups) result.reject(new Error('test over'));
  }

  /** Completes set-up number `index` successfully. */
  async setUp(index: number): Promise<void> {
    this.setups[index].result.resolve({ connection: this.setups[index].connection });
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Waits (bounded) for a condition that timers or promises will make true. */
async function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('BrokerLink (controllable fake)', () => {
  let h: Harness;

  afterEach(async () => {
    const closed = h.link.close();
    h.release();
    await closed;
  });

  it('becomes ready after connect and set-up, on the first node of its order', async () => {
    h = new Harness();
    const started = h.link.start();
    const connection = await h.connected(0);
    await h.setUp(0);
    await started;
    expect(h.link.status).toMatchObject({ state: 'ready', node: 'amqp://a:5672/' });
    expect(h.ups).toEqual([{ connection }]);
  });

  it('never becomes ready on a link lost while set-up was in flight, and retries exactly once (defect 2)', async () => {
    h = new Harness();
    void h.link.start();
    const first = await h.connected(0);
    first.drop(new Error('reset by peer'));
    await h.setUp(0); // the stale set-up finishes after the loss
    expect(h.link.status.state).not.toBe('ready');
    expect(h.ups).toHaveLength(0);
    // exactly one retry, on the next node
    const second = await h.connected(1);
    expect(second.url).toBe('amqp://b:5672');
    await h.setUp(1);
    expect(h.link.status.state).toBe('ready');
    expect(h.ups).toEqual([{ connection: second }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.connects).toHaveLength(2);
  });

  it('does not crash on an error event during connect or set-up (defect 3)', async () => {
    h = new Harness();
    void h.link.start();
    const first = await h.connected(0);
    expect(() => first.emit('error', new Error('PRECONDITION_FAILED'))).not.toThrow();
    h.setups[0].result.reject(new Error('406 PRECONDITION_FAILED'));
    await until(() => h.connects.length === 2);
    expect(h.warnings.join('\n')).toMatch(/406 PRECONDITION_FAILED/);
  });

  it('stays closed when close() lands while set-up is in flight (defect 4)', async () => {
    h = new Harness();
    void h.link.start();
    const first = await h.connected(0);
    const closed = h.link.close();
    await h.setUp(0);
    await closed;
    expect(h.link.status.state).toBe('closed');
    expect(first.closed).toBe(true);
    expect(h.ups).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(h.connects).toHaveLength(1);
  });

  it('stays closed when close() lands while connecting', async () => {
    h = new Harness();
    void h.link.start();
    await until(() => h.connects.length === 1);
    const closed = h.link.close();
    const late = new FakeConnection('amqp://a:5672');
    h.connects[0].result.resolve(late);
    await closed;
    expect(late.closed).toBe(true);
    expect(h.setups).toHaveLength(0);
    expect(h.link.status.state).toBe('closed');
  });

  it('tells the owner once when a ready link is lost, then reconnects to another node first', async () => {
    h = new Harness();
    void h.link.start();
    const first = await h.connected(0);
    await h.setUp(0);
    first.drop(new Error('Heartbeat timeout'));
    expect(h.downs).toHaveLength(1);
    expect(h.downs[0][1]).toMatch(/Heartbeat timeout/);
    expect(h.link.status.state).not.toBe('ready');
    const second = await h.connected(1);
    expect(second.url).toBe('amqp://b:5672');
    await h.setUp(1);
    expect(h.link.status).toMatchObject({ state: 'ready', node: 'amqp://b:5672/' });
  });

  it('drop() from the owner (a silent link) ends the connection and reconnects', async () => {
    h = new Harness();
    void h.link.start();
    const first = await h.connected(0);
    await h.setUp(0);
    h.link.drop('no answer to the consumer check');
    expect(h.downs).toHaveLength(1);
    expect(h.link.session).toBeUndefined();
    await h.connected(1);
    await h.setUp(1);
    expect(h.link.status.state).toBe('ready');
    // the dropped connection's own late close is not a second loss
    first.drop();
    expect(h.downs).toHaveLength(1);
    expect(h.link.status.state).toBe('ready');
  });

  it('logs one line per cause, not one per retry', async () => {
    h = new Harness({ reconnectDelayMs: [1, 1] });
    void h.link.start();
    for (let i = 0; i < 5; i++) {
      await until(() => h.connects.length > i);
      h.connects[i].result.reject(new Error('connect ECONNREFUSED'));
    }
    await until(() => h.connects.length > 5);
    expect(h.warnings.filter((line) => /ECONNREFUSED/.test(line)).length).toBeLessThanOrEqual(3);
    expect(h.link.status).toMatchObject({ state: 'connecting' });
  });

  it('reports the broker blocking publishing while ready, and the unblock', async () => {
    const flow: (string | undefined)[] = [];
    h = new Harness({ onFlow: (blocked) => flow.push(blocked) });
    void h.link.start();
    const first = await h.connected(0);
    await h.setUp(0);
    first.emit('blocked', 'low on memory');
    expect(h.link.status.blocked).toBe('low on memory');
    first.emit('unblocked');
    expect(h.link.status.blocked).toBeUndefined();
    expect(flow).toEqual(['low on memory', undefined]);
  });

  it('starts backing off from the minimum again once a link has come up (defect 8)', async () => {
    h = new Harness({ urls: ['amqp://a:5672'], reconnectDelayMs: [5, 400] });
    void h.link.start();
    // a long outage: the delay between attempts has grown to the maximum
    for (let i = 0; i < 8; i++) {
      await until(() => h.connects.length > i, 5000);
      h.connects[i].result.reject(new Error('connect ECONNREFUSED'));
    }
    await until(() => h.connects.length > 8, 5000);
    const connection = new FakeConnection(h.connects[8].url);
    h.connects[8].result.resolve(connection);
    await until(() => h.setups.length > 0);
    await h.setUp(0);
    expect(h.link.status.state).toBe('ready');
    // the link goes again, and the next attempt fails once: both retries come soon, not after the maximum
    const lostAt = Date.now();
    connection.drop(new Error('CONNECTION_FORCED'));
    await until(() => h.connects.length > 9, 5000);
    h.connects[9].result.reject(new Error('connect ECONNREFUSED'));
    await until(() => h.connects.length > 10, 5000);
    expect(Date.now() - lostAt).toBeLessThan(200);
  });

  it('comes up blocked when the broker blocks the connection during set-up, and keeps waiting for the set-up past its deadline while blocked (defect 4)', async () => {
    h = new Harness({ connectTimeoutMs: 100 });
    void h.link.start();
    const connection = await h.connected(0);
    connection.emit('blocked', 'low on memory');
    // a blocked broker answers nothing: the set-up deadline waits while the block holds
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(connection.closed).toBe(false);
    expect(h.link.status).toMatchObject({ state: 'connecting', blocked: 'low on memory' });
    await h.setUp(0);
    expect(h.link.status).toMatchObject({ state: 'ready', blocked: 'low on memory' });
    connection.emit('unblocked');
    expect(h.link.status.blocked).toBeUndefined();
    expect(h.connects).toHaveLength(1);
  });

  it('leaves no timer behind after close(), whatever it was doing', async () => {
    h = new Harness({ reconnectDelayMs: [60_000, 60_000] });
    void h.link.start();
    await until(() => h.connects.length === 1);
    h.connects[0].result.reject(new Error('ECONNREFUSED'));
    await until(() => h.link.status.state === 'waiting');
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await h.link.close();
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBe(before - 1);
  });
});
