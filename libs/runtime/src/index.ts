export * from './amqp-connection';
export * from './env.config';
export * from './process-lifecycle';
