import { AppConfig, loadConfig } from '@app/runtime';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createFibWorker } from '../../apps/fib-worker/src/fib-worker.factory';
import { createGateway } from '../../apps/gateway/src/gateway.factory';
import { RpcQueueServer } from '../../apps/fib-worker/src/rpc-queue/rpc-queue.server';
import { AMQP_URL } from './broker';

export function testConfig(queue: string, overrides: Partial<AppConfig> = {}): AppConfig {
  // Logs at error level: the apps' start-up lines are noise in test output.
  return { ...loadConfig({}), amqpUrls: [AMQP_URL], rpcQueue: queue, logLevel: 'error', ...overrides };
}

/** A worker app in this process (no HTTP listener), consuming `queue`. */
export async function startWorker(
  queue: string,
  overrides: Partial<AppConfig> = {},
): Promise<{ app: NestFastifyApplication; server: RpcQueueServer }> {
  const app = await createFibWorker(testConfig(queue, overrides));
  return { app, server: app.get(RpcQueueServer) };
}

/** A gateway app in this process, initialised, for supertest. */
export function startGateway(queue: string, overrides: Partial<AppConfig> = {}): Promise<NestFastifyApplication> {
  return createGateway(testConfig(queue, overrides));
}
