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
