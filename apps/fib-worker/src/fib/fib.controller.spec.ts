import { Test } from '@nestjs/testing';
import { RpcException } from '@nestjs/microservices';
import { FIB_WORKER_SETTINGS } from '../fib-worker.constants';
import { FibController } from './fib.controller';

describe('FibController', () => {
  let controller: FibController;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [FibController],
      providers: [{ provide: FIB_WORKER_SETTINGS, useValue: { fibMaxN: 1000 } }],
    }).compile();
    controller = moduleRef.get(FibController);
  });

  it('answers fib(n) in decimal', () => {
    expect(controller.compute(Buffer.from('30'))).toBe('832040');
    expect(controller.compute(Buffer.from('100'))).toBe('354224848179261915075');
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
