import { RpcClient, RpcClientError } from '@app/rpc-client';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AMQP_URL, deleteQueues, uniqueQueue } from '../support/broker';
import { startWorker } from '../support/apps';

function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof RpcClientError ? error.code : `not an RpcClientError: ${String(error)}`),
  );
}

/** Per-call options checked at the API, against the real broker: one bad call must not take the link down. */
describe('RpcClient per-call options (e2e)', () => {
  const queue = uniqueQueue('options');
  let worker: { app: NestFastifyApplication };
  let client: RpcClient;

  beforeAll(async () => {
    worker = await startWorker(queue);
    client = new RpcClient({ url: AMQP_URL, queue, connectionName: 'test options' });
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
    await worker.app.close();
    await deleteQueues(queue);
  });

  it.each([2.5, -1])(
    'a call with timeoutMs %p fails INVALID_OPTIONS alone; the call beside it is answered (defect 7)',
    async (timeoutMs) => {
      const good = client.call(Buffer.from('30'));
      const bad = client.call(Buffer.from('30'), { timeoutMs });
      await expect(codeOf(bad)).resolves.toBe('INVALID_OPTIONS');
      await expect(good).resolves.toBe('832040');
      expect(client.isConnected).toBe(true);
      await expect(client.call(Buffer.from('10'))).resolves.toBe('55');
    },
  );
});
