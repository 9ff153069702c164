import { loggerOptions, MetricsModule } from '@app/observability';
import { RpcClientModule } from '@app/rpc-client';
import { AppConfig, linkSettings } from '@app/runtime';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { FibNPipe } from './fib/fib-n.pipe';
import { FibController } from './fib/fib.controller';
import { FibService } from './fib/fib.service';
import { RpcClientErrorFilter } from './fib/rpc-client-error.filter';
import { BrokerHealthIndicator } from './health/broker.health';
import { HealthController } from './health/health.controller';
import { GatewayMetrics } from './metrics/gateway.metrics';

@Module({})
export class GatewayModule {
  /** `config` is the validated environment (see loadConfig); ConfigService serves it typed. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        LoggerModule.forRoot(loggerOptions('gateway', config.logLevel)),
        MetricsModule.forRoot(),
        TerminusModule.forRoot({ logger: false }),
        RpcClientModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (settings: ConfigService<AppConfig, true>) => ({
            ...linkSettings(config),
            // fib is pure: a call whose link was lost is sent again on the next one.
            resendOnLinkLoss: true,
            // a node lost: new calls wait (bounded) for the reconnect to another node instead of failing
            failoverHoldMs: settings.get('rpcFailoverHoldMs', { infer: true }),
            queue: settings.get('rpcQueue', { infer: true }),
            timeoutMs: settings.get('rpcTimeoutMs', { infer: true }),
            maxInFlight: settings.get('rpcMaxInFlight', { infer: true }),
            replyMode: settings.get('rpcReplyMode', { infer: true }),
            connectionName: 'fib-rpc gateway',
          }),
        }),
      ],
      controllers: [FibController, HealthController],
      providers: [
        { provide: APP_FILTER, useClass: RpcClientErrorFilter },
        FibNPipe,
        FibService,
        GatewayMetrics,
        BrokerHealthIndicator,
      ],
    };
  }
}
