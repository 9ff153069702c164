import { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RpcQueueServer } from '../../apps/fib-worker/src/rpc-queue/rpc-queue.server';
import { deleteQueues, openBroker, sleep, uniqueQueue, waitFor } from '../support/broker';
import { startWorker } from '../support/apps';

/** Odd messages straight to the queue: each gets the contract's answer, and the worker keeps serving. */
describe('worker against odd messages (e2e)', () => {
  const queue = uniqueQueue('odd');
  let worker: { app: NestFastifyApplication; server: RpcQueueServer };
  let connection: ChannelModel;
  let channel: Channel;
  let replyQueue: string;
  const replies = new Map<string, ConsumeMessage>();
  const anonymous: ConsumeMessage[] = [];

  beforeAll(async () => {
    worker = await startWorker(queue);
    connection = await openBroker();
    channel = await connection.createChannel();
    replyQueue = (await channel.assertQueue('', { exclusive: true })).queue;
    await channel.consume(
      replyQueue,
      (message) => {
        if (message === null) return;
        const id = message.properties.correlationId as string | undefined;
        if (id === undefined) anonymous.push(message);
        else replies.set(id, message);
      },
      { noAck: true },
    );
  });

  afterAll(async () => {
    await connection.close();
    await worker.app.close();
    await deleteQueues(queue);
  });

  async function send(body: Buffer, properties: Options.Publish = {}): Promise<ConsumeMessage> {
    const correlationId = randomUUID();
    channel.sendToQueue(queue, body, { correlationId, replyTo: replyQueue, ...properties });
    await waitFor(() => replies.has(correlationId), 5000, `a reply to ${body.subarray(0, 16).toString('latin1')}`);
    return replies.get(correlationId) as ConsumeMessage;
  }

  function errorOf(reply: ConsumeMessage): { code: string; message: string } {
    expect(reply.properties.type).toBe('error');
    expect(reply.properties.contentType).toBe('application/json');
    return JSON.parse(reply.content.toString()) as { code: string; message: string };
  }

  it.each([
    ['empty body', Buffer.alloc(0)],
    ['junk bytes', Buffer.from([0xff, 0x00, 0xfe, 0x80])],
    ['negative', Buffer.from('-1')],
    ['decimal', Buffer.from('1.5')],
    ['exponent', Buffer.from('1e3')],
    ['leading whitespace', Buffer.from(' 30')],
    ['trailing newline', Buffer.from('30\n')],
    ['leading +', Buffer.from('+30')],
    ['hex', Buffer.from('0x10')],
    ['JSON', Buffer.from('{"n":30}')],
    ['1 MiB of junk', Buffer.alloc(1 << 20, 'x')],
  ])('%s → INVALID_ARGUMENT error reply', async (_label, body) => {
    expect(errorOf(await send(body)).code).toBe('INVALID_ARGUMENT');
  });

  it.each([
    ['above FIB_MAX_N', Buffer.from('100001')],
    ['1 MiB of digits', Buffer.alloc(1 << 20, '9')],
  ])('%s → OUT_OF_RANGE error reply', async (_label, body) => {
    expect(errorOf(await send(body)).code).toBe('OUT_OF_RANGE');
  });

  it('wrong content_type is ignored: the body decides', async () => {
    const reply = await send(Buffer.from('30'), { contentType: 'application/octet-stream' });
    expect(reply.content.toString()).toBe('832040');
  });

  it('no reply_to → acked and dropped (nothing to answer), and the queue is left empty', async () => {
    const dropped = worker.server.stats.dropped;
    channel.sendToQueue(queue, Buffer.from('30'), { correlationId: randomUUID() });
    await waitFor(() => worker.server.stats.dropped === dropped + 1, 5000, 'the drop');
    const { messageCount } = await channel.checkQueue(queue);
    expect(messageCount).toBe(0);
  });

  it('no correlation_id → answered without one', async () => {
    channel.sendToQueue(queue, Buffer.from('12'), { replyTo: replyQueue });
    await waitFor(() => anonymous.length === 1, 5000, 'the anonymous reply');
    expect(anonymous[0].content.toString()).toBe('144');
    expect(anonymous[0].properties.correlationId).toBeUndefined();
  });

  it('keeps serving after all of that, with nothing left unacked', async () => {
    await sleep(50);
    expect((await send(Buffer.from('30'))).content.toString()).toBe('832040');
    const { messageCount } = await channel.checkQueue(queue);
    expect(messageCount).toBe(0);
    expect(worker.server.stats.failed).toEqual({ INVALID_ARGUMENT: 11, OUT_OF_RANGE: 2 });
  });
});
