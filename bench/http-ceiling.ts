/**
 * The HTTP ceiling for the gateway benchmark: the same Nest + Fastify stack
 * answering GET /fib/:n by computing in-process — no broker, no RPC.
 */
import 'reflect-metadata';
import { fib } from '@app/fib';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

@Controller('fib')
class InProcessFibController {
  @Get(':n')
  get(@Param('n') n: string): { n: number; value: string } {
    const k = Number(n);
    return { n: k, value: fib(k).toString() };
  }
}

@Module({ controllers: [InProcessFibController] })
class HttpCeilingModule {}

void NestFactory.create(HttpCeilingModule, new FastifyAdapter(), { logger: false })
  .then((app) => app.listen(Number(process.env.PORT ?? 0), '127.0.0.1').then(() => app.getUrl()))
  .then((url) => process.stdout.write(`listening on ${url} \n`));
