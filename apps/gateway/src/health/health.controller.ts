import { RpcClient } from '@app/rpc-client';
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';

interface HealthBody {
  status: 'ok';
  broker: 'up';
  workers: number;
  pending: number;
}

@Controller('health')
export class HealthController {
  constructor(private readonly rpc: RpcClient) {}

  /** 200 while the broker connection and reply path are up, 503 with details when not. */
  @Get()
  check(): HealthBody {
    if (!this.rpc.isConnected) {
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'no broker connection',
        broker: 'down',
      });
    }
    return { status: 'ok', broker: 'up', workers: this.rpc.consumerCount, pending: this.rpc.pendingCount };
  }
}
