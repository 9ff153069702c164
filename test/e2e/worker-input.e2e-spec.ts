import { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RpcQueueServer } from '../../apps/fib-worker/src/rpc-queue/rpc-queue.server';
import { consumerCount, deleteQueues, openReplyCollector, sleep, uniqueQueue, waitFor } from '../support/broker';
import { startWorker } from '../support/apps';
import { messagesLeft, publishRaw, RawMessage } from '../support/raw-amqp';

/** Odd messages straight to the queue: each gets the contract's answer, and the worker keeps serving. */
describe('worker against odd messages (e2e)', () => {
  const queue = uniqueQueue('odd');
  let worker: { app: NestFastifyApplication; server: RpcQueueServer };
  let connection: ChannelModel;
  let channel: Channel;
  let replyQueue: string;
  let replies: Map<string, ConsumeMessage>;
  let anonymous: ConsumeMessage[];
  let workerClosed = false;

  beforeAll(async () => {
    worker = await startWorker(queue);
    ({ connection, channel, replyQueue, replies, anonymous } = await openReplyCollector());
  });

  afterAll(async () => {
    await connection.close();
    if (!workerClosed) await worker.app.close();
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

  it('no reply_to → dropped (nothing to answer), nothing left ready (the last test counts unacked too)', async () => {
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

  it('a 255-byte correlation_id (ASCII, and multi-byte UTF-8) is echoed unchanged', async () => {
    for (const correlationId of ['c'.repeat(255), `${'é'.repeat(127)}x`]) {
      expect(Buffer.byteLength(correlationId)).toBe(255);
      channel.sendToQueue(queue, Buffer.from('30'), { correlationId, replyTo: replyQueue });
      await waitFor(() => replies.has(correlationId), 5000, 'the reply');
      expect(replies.get(correlationId)?.content.toString()).toBe('832040');
    }
  });

  it('a 255-byte reply_to (the longest queue name) is answered there', async () => {
    const longQueue = `${queue}.`.padEnd(255, 'r');
    const longChannel = await connection.createChannel();
    try {
      await longChannel.assertQueue(longQueue, { exclusive: true });
      const received: ConsumeMessage[] = [];
      await longChannel.consume(longQueue, (message) => message && received.push(message), { noAck: true });
      const correlationId = randomUUID();
      channel.sendToQueue(queue, Buffer.from('12'), { correlationId, replyTo: longQueue });
      await waitFor(() => received.length === 1, 5000, 'the reply on the 255-byte queue');
      expect(received[0].content.toString()).toBe('144');
      expect(received[0].properties.correlationId).toBe(correlationId);
    } finally {
      await longChannel.close();
    }
  });

  it('keeps serving after all of that, with nothing left unacked', async () => {
    await sleep(50);
    expect((await send(Buffer.from('30'))).content.toString()).toBe('832040');
    expect(worker.server.stats.failed).toEqual({ INVALID_ARGUMENT: 11, OUT_OF_RANGE: 2 });
    // Ready messages alone would miss a delivery the worker never acked: close the worker, so its unacked
    // deliveries go back to the queue, then count everything the queue holds.
    workerClosed = true;
    await worker.app.close();
    expect(await messagesLeft(queue)).toBe(0);
  });
});

/**
 * correlation_id / reply_to bytes that are not UTF-8: client libraries decode them as text (100 × 0xFF becomes
 * 300 bytes), so the reply cannot carry them back. Such a request is an odd message, not a reason to stop:
 * it is settled, and every request behind it, in and beyond the prefetch window, is answered.
 */
describe('worker against property bytes that are not UTF-8 (e2e)', () => {
  const PREFETCH = 4;
  const invalid = Buffer.alloc(100, 0xff);
  let connection: ChannelModel;
  let channel: Channel;
  let replyQueue: string;
  let replies: Map<string, ConsumeMessage>;

  beforeAll(async () => {
    ({ connection, channel, replyQueue, replies } = await openReplyCollector());
  });

  afterAll(async () => {
    await connection.close();
  });

  it.each<[string, RawMessage]>([
    ['correlation_id', { body: Buffer.from('30'), correlationId: invalid }],
    ['reply_to', { body: Buffer.from('30'), correlationId: Buffer.from('odd'), replyTo: invalid }],
    ['correlation_id and reply_to', { body: Buffer.from('30'), correlationId: invalid, replyTo: invalid }],
  ])('100 bytes of 0xFF as %s: 20 requests behind it are answered, nothing is left', async (_label, odd) => {
    const queue = uniqueQueue('odd-bytes');
    const worker = await startWorker(queue, { workerPrefetch: PREFETCH });
    let workerClosed = false;
    try {
      await waitFor(async () => (await consumerCount(queue)) === 1, 10_000, 'the worker consuming');
      const withReplyTo = { replyTo: Buffer.from(replyQueue), ...odd };
      // More odd messages than the prefetch window holds, then the normal ones.
      await publishRaw(
        queue,
        Array.from({ length: PREFETCH + 1 }, () => withReplyTo),
      );
      const ids = Array.from({ length: 20 }, () => randomUUID());
      ids.forEach((correlationId, i) =>
        channel.sendToQueue(queue, Buffer.from(String(i)), { correlationId, replyTo: replyQueue }),
      );
      await waitFor(() => ids.every((id) => replies.has(id)), 10_000, 'replies to all 20 requests');
      let [a, b] = [0n, 1n];
      for (const id of ids) {
        expect(replies.get(id)?.content.toString()).toBe(a.toString());
        [a, b] = [b, a + b];
      }
      workerClosed = true;
      await worker.app.close();
      expect(await messagesLeft(queue)).toBe(0);
    } finally {
      if (!workerClosed) await worker.app.close();
      await deleteQueues(queue);
    }
  });
});
