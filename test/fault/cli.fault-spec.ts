import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AMQP_URL, deleteQueues, uniqueQueue } from '../support/broker';
import { startWorker } from '../support/apps';
import { AppProcess } from '../support/app-process';
import { TutorialServer } from '../support/tutorial-peers';

/** `npm run fib -- N…`: the built CLI as a child process, against a real worker. */
describe('fib CLI (fault)', () => {
  const queue = uniqueQueue('cli');
  let worker: NestFastifyApplication;

  beforeAll(async () => {
    worker = (await startWorker(queue)).app;
  });

  afterAll(async () => {
    await worker.close();
    await deleteQueues(queue);
  });

  it('prints one line per n and exits 0', async () => {
    const cli = new AppProcess('cli', { AMQP_URL, RPC_QUEUE: queue }, ['10', '30', '90']);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.output).toBe('fib(10) = 55\nfib(30) = 832040\nfib(90) = 2880067194370816120\n');
  });

  it('reports a bad n and exits 1, still answering the others', async () => {
    const cli = new AppProcess('cli', { AMQP_URL, RPC_QUEUE: queue }, ['7', '-1']);
    expect(await cli.exited).toEqual({ code: 1, signal: null });
    expect(cli.output).toContain('fib(7) = 13\n');
    expect(cli.output).toContain('fib(-1): INVALID_ARGUMENT n must be a non-negative decimal integer, got "-1"\n');
  });

  it('fails fast with NO_WORKER and exits 1 when nobody consumes the queue', async () => {
    const started = Date.now();
    const cli = new AppProcess('cli', { AMQP_URL, RPC_QUEUE: uniqueQueue('cli-none') }, ['5']);
    expect(await cli.exited).toEqual({ code: 1, signal: null });
    expect(cli.output).toMatch(/^fib\(5\): NO_WORKER /m);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('honours RPC_TIMEOUT_MS: a worker that never answers costs 300 ms, not the default 5 s', async () => {
    const silentQueue = uniqueQueue('cli-silent');
    const silent = await TutorialServer.start(silentQueue, { delayMs: 60_000 });
    try {
      const started = Date.now();
      const cli = new AppProcess('cli', { AMQP_URL, RPC_QUEUE: silentQueue, RPC_TIMEOUT_MS: '300' }, ['5']);
      expect(await cli.exited).toEqual({ code: 1, signal: null });
      expect(cli.output).toMatch(/^fib\(5\): TIMEOUT /m);
      expect(silent.received).toBe(1);
      // Node and Nest start-up included; the default deadline alone would be 5000 ms.
      expect(Date.now() - started).toBeLessThan(3500);
    } finally {
      await silent.stop();
      await deleteQueues(silentQueue);
    }
  });

  it('prints usage and exits 2 without arguments', async () => {
    const cli = new AppProcess('cli', { AMQP_URL, RPC_QUEUE: queue });
    expect(await cli.exited).toEqual({ code: 2, signal: null });
    expect(cli.output).toBe('usage: npm run fib -- N [N …]\n');
  });
});
