import { traceHttpServer, traceRequests, requestIdFastifyOptions } from '@app/observability';
import { AppConfig } from '@app/runtime';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { serveFibWithoutNestLayers } from './fib/fib.route';
import { GatewayModule } from './gateway.module';
import { httpServerOptions } from './http/http-server.options';
import { checkRequestHead } from './http/request-head.guard';

/** The gateway app, initialised (connected to the broker) but not listening. */
export async function createGateway(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(config),
    new FastifyAdapter({ ...requestIdFastifyOptions, ...httpServerOptions(config.rpcTimeoutMs) }),
    { bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(Logger));
  // Nest flushes bufferLogs only when listen() completes: lines logged while connecting would wait (or be lost).
  app.flushLogs();
  traceHttpServer(app.getHttpAdapter().getInstance()); // before traceRequests: its log line names the span
  traceRequests(app, config.logLevel);
  checkRequestHead(app.getHttpAdapter().getInstance());
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('fib-rpc gateway')
      .setDescription('fib(n) over RabbitMQ request/reply; every answer and error code: docs/http-api.md')
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  closeKeepAliveConnectionsOnClose(app);
  serveFibWithoutNestLayers(app); // before init(): it takes over the route Nest registers there
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/**
 * Fastify's close() drops the keep-alive connections that are idle when it
 * starts; those still busy become idle later and would hold the process open
 * for the keep-alive timeout. Sweep them until the server has closed.
 */
function closeKeepAliveConnectionsOnClose(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('preClose', (done) => {
    const sweep = setInterval(() => fastify.server.closeIdleConnections(), 50);
    fastify.server.once('close', () => clearInterval(sweep));
    done();
  });
}
