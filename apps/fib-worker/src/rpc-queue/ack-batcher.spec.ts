import { Channel, Message } from 'amqplib';
import { AckBatcher } from './ack-batcher';

function delivery(tag: number): Message {
  return { fields: { deliveryTag: tag } } as Message;
}

describe('AckBatcher', () => {
  let acks: [number, boolean][];
  let batcher: AckBatcher;

  beforeEach(() => {
    acks = [];
    const channel = { ack: (m: Message, all: boolean) => acks.push([m.fields.deliveryTag, all]) } as unknown as Channel;
    batcher = new AckBatcher(channel, 4);
  });

  it('acks a lone delivery at once', () => {
    batcher.received(delivery(1));
    batcher.done(delivery(1));
    expect(acks).toEqual([[1, true]]);
  });

  it('acks a burst once, when the last of it is done', () => {
    [1, 2, 3].forEach((t) => batcher.received(delivery(t)));
    [1, 2, 3].forEach((t) => batcher.done(delivery(t)));
    expect(acks).toEqual([[3, true]]);
  });

  it('never acks past a delivery still in hand', () => {
    [1, 2, 3].forEach((t) => batcher.received(delivery(t)));
    batcher.done(delivery(2));
    batcher.done(delivery(3));
    expect(acks).toEqual([]);
    batcher.done(delivery(1));
    expect(acks).toEqual([[3, true]]);
  });

  it('acks every maxBatch while a long burst is still in hand', () => {
    for (let t = 1; t <= 10; t++) batcher.received(delivery(t));
    for (let t = 1; t <= 9; t++) batcher.done(delivery(t));
    expect(acks).toEqual([
      [4, true],
      [8, true],
    ]);
    batcher.done(delivery(10));
    expect(acks.at(-1)).toEqual([10, true]);
  });
});

describe('AckBatcher memory', () => {
  it('stays bounded by the deliveries in hand when the worker never goes idle', () => {
    const acked: number[] = [];
    const channel = { ack: (m: Message) => acked.push(m.fields.deliveryTag) } as unknown as Channel;
    const batcher = new AckBatcher(channel, 50);
    // One delivery always in hand: tag t is received before t-1 is done.
    batcher.received(delivery(1));
    for (let t = 2; t <= 200_000; t++) {
      batcher.received(delivery(t));
      batcher.done(delivery(t - 1));
    }
    expect(batcher.retained).toBeLessThanOrEqual(1024 + 2);
    expect(acked.at(-1)).toBe(199_950);
  });

  it('does not throw when the channel is gone', () => {
    const channel = {
      ack: () => {
        throw new Error('Channel closed');
      },
    } as unknown as Channel;
    const batcher = new AckBatcher(channel, 4);
    batcher.received(delivery(1));
    expect(() => batcher.done(delivery(1))).not.toThrow();
  });
});
