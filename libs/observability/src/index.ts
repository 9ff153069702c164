export * from './logger.options';
export * from './metrics/metrics.controller';
export * from './metrics/metrics.module';
export * from './request-id.fastify';
export * from './request-trace';
export * from './observability.constants';
export * from './tracing';
export * from './tracing/http-route.span';
