import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';

/**
 * Tells the http instrumentation the route a request matched (`/fib/:n`):
 * its SERVER span is then named `GET /fib/:n` with `http.route`, instead of
 * a bare `GET`. Nothing without the instrumentation (no metadata in the context):
 * our apps make that span themselves (traceHttpServer); this serves a host app that uses it.
 */
export function nameHttpSpan(route: string | undefined): void {
  const metadata = getRPCMetadata(context.active());
  if (metadata?.type === RPCType.HTTP && route !== undefined) metadata.route = route;
}
