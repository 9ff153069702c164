export * from './rpc.constants';
export * from './rpc-error-code';
export * from './fib-request.codec';
export * from './rpc-reply.codec';
