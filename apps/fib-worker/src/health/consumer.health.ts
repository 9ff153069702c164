import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { RpcQueueServer } from '../rpc-queue/rpc-queue.server';

/** Up while this replica consumes the request queue; down says why (the last connection or set-up problem). */
@Injectable()
export class ConsumerHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly server: RpcQueueServer,
  ) {}

  check(key: string): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    const { state, node, problem } = this.server.linkStatus;
    const details = { inFlight: this.server.inHandCount, node };
    return this.server.isConsuming
      ? indicator.up(details)
      : indicator.down({ ...details, state, message: problem ?? 'not consuming the request queue; reconnecting' });
  }
}
