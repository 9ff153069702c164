import { WRITE_PROBE_ROUTING_KEY } from '@app/runtime';
import { ChannelModel } from 'amqplib';
import { EventEmitter } from 'node:events';
import { ReplyPublisher } from './reply-publisher';
import { ReplyOutcome } from './reply-publisher.interfaces';
import { UnreachableReplyAddresses } from './unreachable-reply-addresses';

type Confirm = (error: unknown) => void;

/** A confirm channel that records publishes; the write probe is confirmed at once. */
class FakeChannel extends EventEmitter {
  readonly published: { key: string; confirm: Confirm }[] = [];

  publish(_exchange: string, key: string, _body: Buffer, _props: unknown, confirm: Confirm): boolean {
    if (key === WRITE_PROBE_ROUTING_KEY) setImmediate(() => confirm(null));
    else this.published.push({ key, confirm });
    return true;
  }

  /** Confirms (or nacks) every publish not yet settled. */
  settleAll(error: unknown = null): void {
    for (const { confirm } of this.published.splice(0)) confirm(error);
  }
}

/** A connection as amqplib closes it: its channel's callbacks fail first, then the connection says why. */
class FakeConnection extends EventEmitter {
  readonly channel = new FakeChannel();

  createConfirmChannel(): Promise<FakeChannel> {
    return Promise.resolve(this.channel);
  }

  closeBy(code: number): void {
    this.channel.settleAll(new Error('channel closed'));
    this.channel.emit('close');
    this.emit('close', Object.assign(new Error(`Connection closed: ${code}`), { code }));
  }
}

/** Lets the publisher's steps (connect, channel, write check: each a turn or two) run. */
async function tick(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('ReplyPublisher', () => {
  let connections: FakeConnection[];
  let broken: string[];
  let publisher: ReplyPublisher;
  let unreachable: UnreachableReplyAddresses;
  const outcomes = new Map<string, ReplyOutcome>();

  const current = (): FakeConnection => connections[connections.length - 1];
  const send = (id: string, replyTo: string): void =>
    publisher.publish({ replyTo, body: Buffer.from(id), properties: {}, settle: (o) => outcomes.set(id, o) });

  beforeEach(async () => {
    connections = [];
    broken = [];
    outcomes.clear();
    unreachable = new UnreachableReplyAddresses();
    publisher = new ReplyPublisher({
      connect: () => {
        connections.push(new FakeConnection());
        return Promise.resolve(current() as unknown as ChannelModel);
      },
      unreachable,
      onRefusedClose: () => undefined,
      onBroken: (reason) => broken.push(reason),
    });
    await publisher.open();
  });

  afterEach(() => publisher.dispose());

  it('settles a reply when the broker confirms it, not before', async () => {
    send('a', 'q1');
    await tick();
    expect(outcomes.get('a')).toBeUndefined();
    current().channel.settleAll();
    expect(outcomes.get('a')).toBe('confirmed');
  });

  it('a nack is a refusal of that reply only: the connection stays', async () => {
    send('a', 'q1');
    current().channel.settleAll(new Error('message nacked'));
    await tick();
    expect(outcomes.get('a')).toBe('refused');
    expect({ connections: connections.length, broken }).toEqual({ connections: 1, broken: [] });
  });

  it('541: re-sends the replies in flight one address at a time, blames the one that closes it again', async () => {
    send('good-1', 'good');
    send('bad', 'dead');
    send('good-2', 'good');
    current().closeBy(541);
    send('later', 'good');
    await tick();
    // Alone on a new connection: the first address's first reply.
    expect(connections).toHaveLength(2);
    expect(current().channel.published.map((p) => p.key)).toEqual(['good']);
    current().channel.settleAll();
    await tick();
    expect(current().channel.published.map((p) => p.key)).toEqual(['dead']);
    current().closeBy(541);
    await tick();
    await tick();
    // The rest, and what arrived meanwhile, on a third connection.
    expect(connections).toHaveLength(3);
    expect(current().channel.published.map((p) => p.key)).toEqual(['good', 'good']);
    current().channel.settleAll();
    expect(Object.fromEntries(outcomes)).toEqual({
      'good-1': 'confirmed',
      bad: 'unreachable',
      'good-2': 'confirmed',
      later: 'confirmed',
    });
    // Known now: skipped at once, without costing the connection again.
    send('bad-again', 'dead');
    expect(outcomes.get('bad-again')).toBe('unreachable');
    expect({ published: current().channel.published.length, broken }).toEqual({ published: 0, broken: [] });
  });

  it('a close for any other reason breaks the reply path: in-flight replies are lost (their requests redelivered)', async () => {
    send('a', 'q1');
    current().closeBy(320);
    await tick();
    expect(outcomes.get('a')).toBe('lost');
    expect(broken).toEqual([expect.stringMatching(/reply connection closed/)]);
    send('b', 'q1');
    expect(outcomes.get('b')).toBe('lost');
  });

  it('541s that no address explains, twice: the reply path gives up (the link starts over, with backoff)', async () => {
    for (let round = 0; round < 2; round++) {
      send(`r${round}`, 'q1');
      current().closeBy(541);
      await tick();
      current().channel.settleAll();
      await tick();
      await tick();
    }
    expect(broken).toEqual([expect.stringMatching(/no reply address explains it/)]);
    expect(unreachable.size).toBe(0);
  });
});
