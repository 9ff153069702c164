import { RpcClientError } from '@app/rpc-client';
import { BaseExceptionFilter } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { FibController } from './fib.controller';
import { FibResultDto } from './fib-result.dto';
import { RpcClientErrorFilter } from './rpc-client-error.filter';

/** The route as Nest registers it on Fastify (FibController `@Get(':n')`). */
const FIB_ROUTE = '/fib/:n';

type FibRequest = FastifyRequest<{ Params: { n: string } }>;

/**
 * `GET /fib/:n` without Nest's per-request layers: when Nest registers the controller's route on
 * Fastify, its handler is replaced by one calling `FibController.get` directly, and answering a
 * failure as Nest's exception zone would with this app's one filter (RpcClientErrorFilter; anything
 * else by Nest's BaseExceptionFilter: an HttpException's body, else a logged 500). Nest's wrapper
 * (router proxy, context creation, guards/interceptors/pipes lookups, its reply adapter) cost
 * ≈ 16 % of the gateway's CPU per request (docs/benchmarks-gateway.md). The controller, its
 * OpenAPI document and its other route stay Nest's. Must run before `app.init()`. A global guard,
 * interceptor or pipe would not run for this route (the app has none); a second global filter
 * would have to be added to `fail` too.
 */
export function serveFibWithoutNestLayers(app: NestFastifyApplication): void {
  const controller = app.get(FibController);
  const rpcErrors = new RpcClientErrorFilter();
  const otherErrors = new BaseExceptionFilter(app.getHttpAdapter());
  const fail = (error: unknown, request: FibRequest, reply: FastifyReply): void => {
    const host = new ExecutionContextHost([request, reply]);
    if (error instanceof RpcClientError) rpcErrors.catch(error, host);
    else otherErrors.catch(error, host);
  };
  const onFailure = (request: FibRequest, reply: FastifyReply) => (error: unknown) => fail(error, request, reply);

  function fibHandler(request: FibRequest, reply: FastifyReply): Promise<FibResultDto | void> | void {
    // As Nest's adapter does for a route parameter: an empty one is not this route.
    if (request.params.n === '') return void reply.callNotFound();
    let answer: Promise<FibResultDto>;
    try {
      answer = controller.get(request);
    } catch (error) {
      return fail(error, request, reply);
    }
    return answer.catch(onFailure(request, reply));
  }

  let served = false;
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRoute', (route) => {
    if (route.url === FIB_ROUTE && (route.method === 'GET' || route.method === 'HEAD')) {
      route.handler = fibHandler as RouteHandlerMethod;
      served = true;
    }
  });
  // A moved route (a global prefix, a renamed path) would silently bring Nest's layers back: refuse to start.
  fastify.addHook('onReady', (done) =>
    done(served ? undefined : new Error(`${FIB_ROUTE} was not registered: the route cannot be served directly`)),
  );
}
