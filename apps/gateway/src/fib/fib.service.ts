import { encodeFibRequest } from '@app/contracts';
import { RpcClient } from '@app/rpc-client';
import { Injectable } from '@nestjs/common';
import { FibResultDto } from './fib-result.dto';

@Injectable()
export class FibService {
  constructor(private readonly rpc: RpcClient) {}

  /** fib(n) from a worker; rejects with the RpcClientError subclass of whatever went wrong. */
  async fib(n: number): Promise<FibResultDto> {
    const value = await this.rpc.call(encodeFibRequest(n));
    return { n, value };
  }
}
