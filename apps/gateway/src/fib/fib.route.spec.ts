import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify, { FastifyInstance } from 'fastify';
import { FibController } from './fib.controller';
import { serveFibWithoutNestLayers } from './fib.route';

/** The app as serveFibWithoutNestLayers sees it: a controller to call and the Fastify instance. */
function appOf(fastify: FastifyInstance, controller: Partial<FibController>): NestFastifyApplication {
  const adapter = { getInstance: () => fastify };
  return { get: () => controller, getHttpAdapter: () => adapter } as unknown as NestFastifyApplication;
}

describe('serveFibWithoutNestLayers', () => {
  it("answers GET /fib/:n with the controller's result, in place of the handler registered for it", async () => {
    const fastify = Fastify();
    const get = jest.fn((request: { params: { n: string } }) =>
      Promise.resolve({ n: Number(request.params.n), value: '5' }),
    );
    serveFibWithoutNestLayers(appOf(fastify, { get }));
    fastify.get('/fib/:n', () => 'the registered handler');
    await fastify.ready();
    const res = await fastify.inject({ method: 'GET', url: '/fib/5' });
    expect(res.json()).toEqual({ n: 5, value: '5' });
    expect(get).toHaveBeenCalledTimes(1);
    await fastify.close();
  });

  it('refuses to start when the route is not where it expects it (a prefix or a renamed path)', async () => {
    const fastify = Fastify();
    serveFibWithoutNestLayers(appOf(fastify, {}));
    fastify.get('/v1/fib/:n', () => 'moved');
    await expect(fastify.ready()).rejects.toThrow('/fib/:n was not registered');
    await fastify.close();
  });
});
