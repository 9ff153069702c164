export * from './errors';
export * from './rpc-client';
export * from './rpc-client.constants';
export * from './rpc-client.interfaces';
export * from './rpc-client.module';
export { RPC_CLIENT_OPTIONS } from './rpc-client.module-definition';
