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

/** A stop waits this long at most for the last spans to go out (a hung collector must not hold it). */
const SHUTDOWN_LIMIT_MS = 3000;

/**
 * Sends the spans still batched and stops the SDK, for at most 3 s; nothing when tracing is off.
 * Each app's stop calls it after the app has closed (closeOnSignals), so the drained calls' spans go too.
 */
export function shutdownTracing(): Promise<void> {
  if (tracing === undefined) return Promise.resolve();
  const shutdown = tracing.shutdown().catch(() => undefined);
  return new Promise((resolve) => {
    setTimeout(resolve, SHUTDOWN_LIMIT_MS).unref();
    void shutdown.then(() => resolve());
  });
}
