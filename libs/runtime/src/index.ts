export * from './amqp-connection';
export * from './amqp-url';
export * from './env.config';
export * from './process-lifecycle';
