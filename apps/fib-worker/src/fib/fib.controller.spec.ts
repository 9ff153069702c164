import { ConfigService } from '@nestjs/config';
import { RpcException } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { FibController } from './fib.controller';

describe('FibController', () => {
  let controller: FibController;
  const computed: number[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [FibController],
      providers: [
        { provide: ConfigService, useValue: new ConfigService({ fibMaxN: 1000 }) },
        { provide: WorkerMetrics, useValue: { computed: (n: number) => computed.push(n) } },
      ],
    }).compile();
    controller = moduleRef.get(FibController);
  });

  it('answers fib(n) in decimal and records the compute time', () => {
    expect(controller.compute(Buffer.from('30'))).toBe('832040');
    expect(controller.compute(Buffer.from('100'))).toBe('354224848179261915075');
    expect(computed).toEqual([30, 100]);
  });

  it.each([
    ['', 'INVALID_ARGUMENT'],
    ['-1', 'INVALID_ARGUMENT'],
    ['\u00ff', 'INVALID_ARGUMENT'],
    ['1001', 'OUT_OF_RANGE'],
  ])('turns %p into an RpcException with code %s', (body, code) => {
    let thrown: unknown;
    try {
      controller.compute(Buffer.from(body, 'latin1'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RpcException);
    expect((thrown as RpcException).getError()).toMatchObject({ code });
  });
});
