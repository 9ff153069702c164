import { encodeFibRequest } from '@app/contracts';
import { RequestTrace, TRACEPARENT_HEADER } from '@app/observability';
import { RpcCallOptions, RpcClient, RpcClientError } from '@app/rpc-client';
import { Injectable } from '@nestjs/common';
import type { Context } from '@opentelemetry/api';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { FibResultDto } from './fib-result.dto';

@Injectable()
export class FibService {
  constructor(
    private readonly rpc: RpcClient,
    private readonly metrics: GatewayMetrics,
  ) {}

  /**
   * fib(n) from a worker; rejects with the RpcClientError of whatever went
   * wrong. The request id travels as the request's `message_id`, a
   * `traceparent` in its headers table; the correlation id and outcome are
   * written back into `trace` for the log line. Aborting `signal` (the caller
   * left) cancels the call: it rejects with CANCELLED and frees its slot.
   * `traceContext` (the HTTP request's span) is the parent of the call's span.
   */
  async fib(n: number, trace: RequestTrace, signal?: AbortSignal, traceContext?: Context): Promise<FibResultDto> {
    const headers = trace.traceparent === undefined ? undefined : { [TRACEPARENT_HEADER]: trace.traceparent };
    const startedAt = performance.now();
    const options: RpcCallOptions = { messageId: trace.requestId, headers, signal, traceContext };
    const call = this.rpc.send(encodeFibRequest(n), options);
    trace.correlationId = call.correlationId;
    try {
      const value = await call.reply;
      trace.outcome = 'ok';
      this.metrics.record('ok', startedAt);
      return { n, value };
    } catch (error) {
      trace.outcome = error instanceof RpcClientError ? error.code : 'ERROR';
      this.metrics.record(trace.outcome, startedAt);
      throw error;
    }
  }
}
