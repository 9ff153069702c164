import { FibArgumentError, parseFibN } from '@app/contracts';
import { AppConfig } from '@app/runtime';
import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

/** `:n` → number, by the same strict rule the worker applies to request bodies. */
@Injectable()
export class FibNPipe implements PipeTransform<string, number> {
  private readonly maxN: number;

  constructor(config: ConfigService<AppConfig, true>) {
    this.maxN = config.get('fibMaxN', { infer: true });
  }

  transform(value: string): number {
    try {
      return parseFibN(value, this.maxN);
    } catch (error) {
      if (error instanceof FibArgumentError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
