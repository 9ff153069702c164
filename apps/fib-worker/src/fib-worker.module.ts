import { loggerOptions, MetricsModule } from '@app/observability';
import { AppConfig } from '@app/runtime';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { FibController } from './fib/fib.controller';
import { ConsumerHealthIndicator } from './health/consumer.health';
import { HealthController } from './health/health.controller';
import { WorkerMetrics } from './metrics/worker.metrics';
import { RpcQueueServer } from './rpc-queue/rpc-queue.server';

@Module({})
export class FibWorkerModule {
  /** `server` is the transport the app is connected to; health and metrics read its state. */
  static forRoot(config: AppConfig, server: RpcQueueServer): DynamicModule {
    return {
      module: FibWorkerModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        LoggerModule.forRoot(loggerOptions('fib-worker', config.logLevel)),
        MetricsModule.forRoot(),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [FibController, HealthController],
      providers: [{ provide: RpcQueueServer, useValue: server }, WorkerMetrics, ConsumerHealthIndicator],
    };
  }
}
