import { FibArgumentError, parseFibN } from '@app/contracts';
import { BadRequestException, Inject, Injectable, PipeTransform } from '@nestjs/common';
import { GATEWAY_SETTINGS } from '../gateway.constants';
import { GatewaySettings } from '../gateway.interfaces';

/** `:n` → number, by the same strict rule the worker applies to request bodies. */
@Injectable()
export class FibNPipe implements PipeTransform<string, number> {
  constructor(@Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings) {}

  transform(value: string): number {
    try {
      return parseFibN(value, this.settings.fibMaxN);
    } catch (error) {
      if (error instanceof FibArgumentError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
