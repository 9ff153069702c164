import { RpcClientModule, RpcClientOptions } from '@app/rpc-client';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { FibNPipe } from './fib/fib-n.pipe';
import { FibController } from './fib/fib.controller';
import { FibService } from './fib/fib.service';
import { RpcClientErrorFilter } from './fib/rpc-client-error.filter';
import { GATEWAY_SETTINGS } from './gateway.constants';
import { GatewaySettings } from './gateway.interfaces';
import { HealthController } from './health/health.controller';

@Module({})
export class GatewayModule {
  static forRoot(settings: GatewaySettings, rpc: RpcClientOptions): DynamicModule {
    return {
      module: GatewayModule,
      imports: [RpcClientModule.forRoot(rpc)],
      controllers: [FibController, HealthController],
      providers: [
        { provide: GATEWAY_SETTINGS, useValue: settings },
        { provide: APP_FILTER, useClass: RpcClientErrorFilter },
        FibNPipe,
        FibService,
      ],
    };
  }
}
