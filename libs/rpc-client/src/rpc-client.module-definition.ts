import { ConfigurableModuleBuilder } from '@nestjs/common';
import { RpcClientOptions } from './rpc-client.interfaces';

export const {
  ConfigurableModuleClass: RpcClientConfigurableModule,
  MODULE_OPTIONS_TOKEN: RPC_CLIENT_OPTIONS,
  OPTIONS_TYPE: RPC_CLIENT_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: RPC_CLIENT_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RpcClientOptions>().setClassMethodName('forRoot').build();
