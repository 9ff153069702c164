import { RpcClientError, RpcClientErrorCode } from './rpc-client.error';

/** Nobody consumes the request queue: it is absent (unroutable) or has no consumers. */
export class NoWorkerError extends RpcClientError {
  override readonly name = 'NoWorkerError';
  readonly code = RpcClientErrorCode.NO_WORKER;

  constructor(
    queue: string,
    readonly reason: 'no-consumers' | 'unroutable',
  ) {
    super(
      reason === 'unroutable'
        ? `no queue ${queue} to route the request to: no worker has declared it`
        : `no worker is consuming ${queue}`,
      queue,
    );
  }
}
