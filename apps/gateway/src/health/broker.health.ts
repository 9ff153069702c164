import { RpcClient } from '@app/rpc-client';
import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/**
 * Up while the RPC client can send calls: connected, with its reply path, and
 * not held back by flow control. Down says why (connecting, the broker's
 * resource alarm, a socket not draining, closing) and which node it was on.
 */
@Injectable()
export class BrokerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly rpc: RpcClient,
  ) {}

  check(key: string): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    const { status, state, node, reason } = this.rpc.health();
    const details = { queue: this.rpc.queue, node, workers: this.rpc.consumerCount, pending: this.rpc.pendingCount };
    return status === 'up'
      ? indicator.up(details)
      : indicator.down({ ...details, state, message: reason ?? 'no broker connection; reconnecting' });
  }
}
