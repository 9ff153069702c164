import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { ConsumerHealthIndicator } from './consumer.health';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly consumer: ConsumerHealthIndicator,
  ) {}

  /** 200 while this replica consumes the request queue, 503 otherwise. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.consumer.check('rpcQueue')]);
  }
}
