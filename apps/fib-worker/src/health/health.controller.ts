import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { RpcQueueServer } from '../rpc-queue/rpc-queue.server';

@Controller('health')
export class HealthController {
  constructor(@Inject(RpcQueueServer) private readonly server: RpcQueueServer) {}

  /** 200 while this replica consumes the request queue, 503 otherwise. */
  @Get()
  check(): { status: 'ok'; consuming: true } {
    if (!this.server.isConsuming) {
      throw new ServiceUnavailableException({ status: 'error', consuming: false, message: 'not consuming the request queue' });
    }
    return { status: 'ok', consuming: true };
  }
}
