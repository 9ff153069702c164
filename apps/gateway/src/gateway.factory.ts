import { AppConfig, nestLogLevels } from '@app/runtime';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { GatewayModule } from './gateway.module';

export type GatewayConfig = Pick<
  AppConfig,
  'amqpUrl' | 'rpcQueue' | 'rpcTimeoutMs' | 'rpcMaxInFlight' | 'rpcReplyMode' | 'fibMaxN' | 'logLevel'
>;

/** The gateway app, initialised (connected to the broker) but not listening. */
export async function createGateway(config: GatewayConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot(
      { fibMaxN: config.fibMaxN },
      {
        url: config.amqpUrl,
        queue: config.rpcQueue,
        timeoutMs: config.rpcTimeoutMs,
        maxInFlight: config.rpcMaxInFlight,
        replyMode: config.rpcReplyMode,
        connectionName: 'fib-rpc gateway',
      },
    ),
    // A long malformed :n must still reach the pipe (400), not miss the route (404).
    new FastifyAdapter({ routerOptions: { maxParamLength: 10_000 } }),
    { logger: nestLogLevels(config.logLevel), abortOnError: false },
  );
  closeKeepAliveConnectionsOnClose(app);
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
