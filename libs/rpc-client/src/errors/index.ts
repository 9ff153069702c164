export * from './rpc-client.error';
export * from './rpc-timeout.error';
export * from './remote-rpc.error';
export * from './no-worker.error';
export * from './broker-unavailable.error';
export * from './connection-lost.error';
export * from './overloaded.error';
export * from './client-closed.error';
