import { FibArgumentError, parseFibN } from '@app/contracts';
import { fib } from '@app/fib';
import { AppConfig } from '@app/runtime';
import { Controller } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MessagePattern, RpcException } from '@nestjs/microservices';
import { FIB_PATTERN } from '../fib-worker.constants';
import { WorkerMetrics } from '../metrics/worker.metrics';

@Controller()
export class FibController {
  private readonly maxN: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly metrics: WorkerMetrics,
  ) {
    this.maxN = config.get('fibMaxN', { infer: true });
  }

  /**
   * Request body: n in ASCII decimal; reply body: fib(n) in ASCII decimal.
   * No @Payload(): without parameter decorators Nest passes the body as is and
   * skips its pipe machinery, measurably cheaper per message.
   */
  @MessagePattern(FIB_PATTERN)
  compute(body: Buffer): string {
    let n: number;
    try {
      n = parseFibN(body.toString('latin1'), this.maxN);
    } catch (error) {
      if (error instanceof FibArgumentError) throw new RpcException({ code: error.code, message: error.message });
      throw error;
    }
    const startedAt = performance.now();
    const value = fib(n).toString();
    this.metrics.computed(n, startedAt);
    return value;
  }
}
