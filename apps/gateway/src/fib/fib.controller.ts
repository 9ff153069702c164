import { Controller, Get, Param } from '@nestjs/common';
import { FibResultDto } from './fib-result.dto';
import { FibNPipe } from './fib-n.pipe';
import { FibService } from './fib.service';

@Controller('fib')
export class FibController {
  constructor(private readonly fibService: FibService) {}

  @Get(':n')
  get(@Param('n', FibNPipe) n: number): Promise<FibResultDto> {
    return this.fibService.fib(n);
  }
}
