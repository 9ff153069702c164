import { traceRequests, requestIdFastifyOptions } from '@app/observability';
import { AppConfig, linkSettings } from '@app/runtime';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { FIB_PATTERN } from './fib-worker.constants';
import { FibWorkerModule } from './fib-worker.module';
import { RpcQueueServer } from './rpc-queue/rpc-queue.server';

/**
 * The worker app: the RPC transport on the request queue plus a small HTTP
 * server for health and metrics. Started by main.ts and by the e2e tests alike.
 */
export async function createFibWorker(config: AppConfig): Promise<NestFastifyApplication> {
  const server = new RpcQueueServer({
    ...linkSettings(config),
    queue: config.rpcQueue,
    queueType: config.rpcQueueType,
    prefetch: config.workerPrefetch,
    pattern: FIB_PATTERN,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    FibWorkerModule.forRoot(config, server),
    new FastifyAdapter(requestIdFastifyOptions),
    {
      bufferLogs: true,
      abortOnError: false,
    },
  );
  app.useLogger(app.get(Logger));
  // Nest flushes bufferLogs only when a listen() completes, and the transport's completes after its first broker
  // attempt ends: until then every line (start-up, a lost link) sat in a buffer, gone if the process died.
  app.flushLogs();
  traceRequests(app, config.logLevel);
  app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
  // Initialise (logger, metrics) before the transport delivers its first request.
  await app.init();
  await app.startAllMicroservices();
  return app;
}
