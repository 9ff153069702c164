import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { BrokerHealthIndicator } from './broker.health';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly broker: BrokerHealthIndicator,
  ) {}

  /** 200 while the broker connection and reply path are up, 503 with details when not. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.broker.check('broker')]);
  }

  /** 200 while the process answers, whatever the broker's state: liveness, so a broker outage restarts no pod. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
