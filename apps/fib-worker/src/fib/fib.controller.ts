import { FibArgumentError, parseFibN } from '@app/contracts';
import { fib } from '@app/fib';
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { FIB_PATTERN, FIB_WORKER_SETTINGS } from '../fib-worker.constants';
import { FibWorkerSettings } from '../fib-worker.interfaces';

@Controller()
export class FibController {
  constructor(@Inject(FIB_WORKER_SETTINGS) private readonly settings: FibWorkerSettings) {}

  /** Request body: n in ASCII decimal; reply body: fib(n) in ASCII decimal. */
  @MessagePattern(FIB_PATTERN)
  compute(@Payload() body: Buffer): string {
    let n: number;
    try {
      n = parseFibN(body.toString('latin1'), this.settings.fibMaxN);
    } catch (error) {
      if (error instanceof FibArgumentError) throw new RpcException({ code: error.code, message: error.message });
      throw error;
    }
    return fib(n).toString();
  }
}
