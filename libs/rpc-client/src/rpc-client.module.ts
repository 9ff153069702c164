import { Global, Module } from '@nestjs/common';
import { RpcClient } from './rpc-client';
import { RPC_CLIENT_OPTIONS, RpcClientConfigurableModule } from './rpc-client.module-definition';
import { RpcClientOptions } from './rpc-client.interfaces';

/**
 * Provides one RpcClient (one connection, one reply path) to the app. It
 * connects on module init and drains, then closes, on application shutdown.
 */
@Global()
@Module({
  providers: [
    {
      provide: RpcClient,
      inject: [RPC_CLIENT_OPTIONS],
      useFactory: (options: RpcClientOptions) => new RpcClient(options),
    },
  ],
  exports: [RpcClient],
})
export class RpcClientModule extends RpcClientConfigurableModule {}
