import type { Channel, ConfirmChannel } from 'amqplib';
import { PublishFields } from './publish-fields';
import { countConfirm, Lane, publishOnLane } from './request-lane';

/** A lane over a stand-in channel that only records publishes (no AMQP). */
function laneOf(confirming: boolean): { lane: Lane; published: string[] } {
  const published: string[] = [];
  const channel = {
    publish: (_exchange: string, routingKey: string): boolean => {
      published.push(routingKey);
      return true;
    },
  } as unknown as Channel;
  const lane: Lane = {
    channel,
    confirms: confirming ? (channel as ConfirmChannel) : undefined,
    closed: false,
    streak: 0,
    acked: false,
    unconfirmed: 0,
    unconfirmedSince: 0,
    direct: false,
  };
  return { lane, published };
}

const options = new PublishFields('q', 'text/plain', 'reply', 'c1', '1000', undefined, {});

describe('request lane confirm bookkeeping (no AMQP)', () => {
  it('counts nothing on a plain channel (confirms off)', () => {
    const { lane, published } = laneOf(false);
    expect(publishOnLane(lane, options, Buffer.from('1'), () => undefined)).toBe(true);
    expect(published).toEqual(['q']);
    expect(lane.unconfirmed).toBe(0);
  });

  it('dates the unconfirmed run from its oldest publish, and from the last confirm while some remain', () => {
    const { lane } = laneOf(true);
    const now = jest.spyOn(Date, 'now');
    now.mockReturnValue(1000);
    publishOnLane(lane, options, Buffer.from('1'), () => undefined);
    now.mockReturnValue(1200);
    publishOnLane(lane, options, Buffer.from('2'), () => undefined);
    expect({ unconfirmed: lane.unconfirmed, since: lane.unconfirmedSince }).toEqual({ unconfirmed: 2, since: 1000 });
    now.mockReturnValue(1500);
    expect(countConfirm(lane, null)).toBe('ack');
    expect({ unconfirmed: lane.unconfirmed, since: lane.unconfirmedSince }).toEqual({ unconfirmed: 1, since: 1500 });
    now.mockReturnValue(1700);
    countConfirm(lane, undefined);
    expect({ unconfirmed: lane.unconfirmed, since: lane.unconfirmedSince }).toEqual({ unconfirmed: 0, since: 1500 });
    now.mockRestore();
  });

  it('counts nacks in a row, an ack ends the streak and marks the channel as having had one', () => {
    const { lane } = laneOf(true);
    for (let i = 0; i < 4; i++) publishOnLane(lane, options, Buffer.from('1'), () => undefined);
    expect(countConfirm(lane, new Error('nacked'))).toBe('nack');
    expect(countConfirm(lane, new Error('nacked'))).toBe('nack');
    expect({ streak: lane.streak, acked: lane.acked }).toEqual({ streak: 2, acked: false });
    expect(countConfirm(lane, null)).toBe('ack');
    expect({ streak: lane.streak, acked: lane.acked }).toEqual({ streak: 0, acked: true });
    countConfirm(lane, new Error('nacked'));
    expect({ streak: lane.streak, acked: lane.acked, unconfirmed: lane.unconfirmed }).toEqual({
      streak: 1,
      acked: true,
      unconfirmed: 0,
    });
  });

  it("takes a closing channel's error callbacks for no nack: nothing is counted", () => {
    const { lane } = laneOf(true);
    publishOnLane(lane, options, Buffer.from('1'), () => undefined);
    lane.closed = true;
    expect(countConfirm(lane, new Error('channel closed'))).toBe('closing');
    expect({ streak: lane.streak, unconfirmed: lane.unconfirmed }).toEqual({ streak: 0, unconfirmed: 1 });
  });
});
