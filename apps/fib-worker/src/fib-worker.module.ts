import { DynamicModule, Module } from '@nestjs/common';
import { FIB_WORKER_SETTINGS } from './fib-worker.constants';
import { FibWorkerSettings } from './fib-worker.interfaces';
import { FibController } from './fib/fib.controller';
import { HealthController } from './health/health.controller';
import { RpcQueueServer } from './rpc-queue/rpc-queue.server';

@Module({})
export class FibWorkerModule {
  /** `server` is the transport the app is connected to; the health check reads its state. */
  static forRoot(settings: FibWorkerSettings, server: RpcQueueServer): DynamicModule {
    return {
      module: FibWorkerModule,
      controllers: [FibController, HealthController],
      providers: [
        { provide: FIB_WORKER_SETTINGS, useValue: settings },
        { provide: RpcQueueServer, useValue: server },
      ],
    };
  }
}
