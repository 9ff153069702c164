import type { Channel, Options } from 'amqplib';
import { dirname, join } from 'node:path';
import { canSendFields, PublishFields, sendFields } from './publish-fields';

/** amqplib's internals, read from the installed package (its `exports` hide them from `import`). */
const AMQPLIB = dirname(require.resolve('amqplib'));
/* eslint-disable @typescript-eslint/no-require-imports */
const Args = require(join(AMQPLIB, 'lib/api_args.js')) as {
  publish(exchange: string, routingKey: string, options: Options.Publish): Record<string, unknown>;
};
const defs = require(join(AMQPLIB, 'lib/defs.js')) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
};
const { ConfirmChannel, Channel: PlainChannel } = require(join(AMQPLIB, 'lib/channel_model.js')) as {
  ConfirmChannel: { prototype: Channel };
  Channel: { prototype: Channel };
};
/* eslint-enable @typescript-eslint/no-require-imports */

const headers = {
  'x-deadline': 1_760_000_000_000,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};
const fields = new PublishFields('rpc_queue', 'text/plain', 'amq.rabbitmq.reply-to', 'abc.1', '4999', 'req-1', headers);
const options: Options.Publish = {
  correlationId: 'abc.1',
  replyTo: 'amq.rabbitmq.reply-to',
  expiration: 4999,
  contentType: 'text/plain',
  mandatory: true,
  messageId: 'req-1',
  headers,
};

describe('PublishFields against the installed amqplib (no AMQP)', () => {
  it('has the keys and values Args.publish makes of the same publish options', () => {
    const made = Args.publish('', 'rpc_queue', options);
    const { headers: madeHeaders, ...rest } = made;
    const { headers: ours, ...ourRest } = { ...fields };
    expect(Object.keys(ourRest).sort()).toEqual(Object.keys(rest).sort());
    expect(ourRest).toEqual(rest);
    const inherited: Record<string, unknown> = {};
    for (const key in madeHeaders as object) inherited[key] = (madeHeaders as Record<string, unknown>)[key];
    expect(ours).toEqual(inherited);
  });

  it('encodes to the same method and header frames as channel.publish would', () => {
    const made = Args.publish('', 'rpc_queue', options);
    expect(defs.encodeMethod(defs.BasicPublish, 1, fields)).toEqual(defs.encodeMethod(defs.BasicPublish, 1, made));
    expect(defs.encodeProperties(defs.BasicProperties, 1, 10, fields)).toEqual(
      defs.encodeProperties(defs.BasicProperties, 1, 10, made),
    );
  });

  it('finds the internals it uses on both channel kinds of this amqplib', () => {
    expect(canSendFields(Object.create(ConfirmChannel.prototype) as Channel)).toBe(true);
    expect(canSendFields(Object.create(PlainChannel.prototype) as Channel)).toBe(true);
    expect(canSendFields({ publish: () => true } as unknown as Channel)).toBe(false);
  });

  it('sends the frames, then queues the confirm callback, as ConfirmChannel.publish does', () => {
    const calls: string[] = [];
    const channel = {
      sendMessage: (f: object, p: object) => calls.push(f === fields && p === fields ? 'send' : 'wrong') > 0,
      pushConfirmCallback: () => calls.push('confirm'),
    } as unknown as Channel;
    expect(sendFields(channel, fields, Buffer.from('30'), () => undefined)).toBe(true);
    sendFields(channel, fields, Buffer.from('30'), undefined);
    expect(calls).toEqual(['send', 'confirm', 'send']);
  });
});
