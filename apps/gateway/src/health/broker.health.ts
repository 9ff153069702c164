import { RpcClient } from '@app/rpc-client';
import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/** Up while the RPC client has its broker connection and reply path. */
@Injectable()
export class BrokerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly rpc: RpcClient,
  ) {}

  check(key: string): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    const details = { queue: this.rpc.queue, workers: this.rpc.consumerCount, pending: this.rpc.pendingCount };
    return this.rpc.isConnected
      ? indicator.up(details)
      : indicator.down({ ...details, message: 'no broker connection; reconnecting' });
  }
}
