export * from './amqp-connection';
export * from './amqp-url';
export * from './broker-link';
export * from './broker-link.interfaces';
export * from './env.config';
export * from './link-settings';
export * from './process-lifecycle';
export * from './write-permission';
