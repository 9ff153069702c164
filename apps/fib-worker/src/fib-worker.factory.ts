import { AppConfig, nestLogLevels } from '@app/runtime';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { FIB_PATTERN } from './fib-worker.constants';
import { FibWorkerModule } from './fib-worker.module';
import { RpcQueueServer } from './rpc-queue/rpc-queue.server';

export type WorkerConfig = Pick<AppConfig, 'amqpUrl' | 'rpcQueue' | 'workerPrefetch' | 'fibMaxN' | 'logLevel'>;

/**
 * The worker app: the RPC transport on the request queue plus a small HTTP
 * server for health. Started by main.ts and by the e2e tests alike.
 */
export async function createFibWorker(config: WorkerConfig): Promise<NestFastifyApplication> {
  const server = new RpcQueueServer({
    url: config.amqpUrl,
    queue: config.rpcQueue,
    prefetch: config.workerPrefetch,
    pattern: FIB_PATTERN,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    FibWorkerModule.forRoot({ fibMaxN: config.fibMaxN }, server),
    new FastifyAdapter(),
    { logger: nestLogLevels(config.logLevel), abortOnError: false },
  );
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  await app.startAllMicroservices();
  return app;
}
