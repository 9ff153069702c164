// The span helpers only: they need @opentelemetry/api alone. The SDK set-up is
// '@app/observability/tracing/register' (apps) or './tracing.sdk' (tests).
export * from './amqp-headers.propagation';
export * from './http-server.span';
export * from './log-trace.mixin';
export * from './rpc-client.span';
export * from './rpc-server.span';
export * from './tracing.active';
export * from './tracing.constants';
