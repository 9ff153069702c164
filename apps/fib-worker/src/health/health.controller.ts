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

  /** 200 while the process answers, whatever the broker's state: liveness, so a broker outage restarts no pod. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
