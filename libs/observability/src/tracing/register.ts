import { basename, dirname } from 'node:path';
import { tracingConfigFromEnv } from './tracing.config';
import type { Tracing } from './tracing.sdk';

/**
 * Imported first by each app's main.ts, before the app is built: starts
 * the trace SDK when the OTEL_* variables ask for it. With none set nothing
 * else is even loaded, and the span helpers stay no-ops.
 */
// dist/apps/<app>/main.js: the app's name is the default service.name.
const app = basename(dirname(process.argv[1] ?? '')) || 'fib-rpc';
const config = tracingConfigFromEnv(process.env, app);

let tracing: Tracing | undefined;
if (config !== undefined) {
  // Loaded only when tracing is on: the SDK and exporter cost nothing otherwise, not even their load.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startTracingFromConfig } = require('./tracing.env') as typeof import('./tracing.env');
  tracing = startTracingFromConfig(config);
}

/** Flushes the spans still batched (bounded by OTEL_BSP_EXPORT_TIMEOUT) and stops; nothing when tracing is off. */
export function shutdownTracing(): Promise<void> {
  return tracing?.shutdown() ?? Promise.resolve();
}
