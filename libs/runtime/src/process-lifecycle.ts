import { INestApplicationContext } from '@nestjs/common';
import { AppConfig, ConfigError, loadConfig } from './env.config';

/**
 * Configuration for a process entry point: a bad variable ends the process
 * with one line naming it and exit status 1, before anything starts.
 */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * SIGTERM/SIGINT close the app (draining what it holds), then run `afterClose`
 * (the last spans out: it bounds its own wait), and exit 0. Nest's own
 * enableShutdownHooks() re-raises the signal, which would report death by
 * signal instead of a normal exit. A second signal exits at once.
 */
export function closeOnSignals(
  app: INestApplicationContext,
  log: (line: string) => void,
  afterClose: () => Promise<void> = () => Promise.resolve(),
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      log(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    log(`${signal}: closing`);
    app.close().then(
      () => afterClose().finally(() => process.exit(0)),
      (error: unknown) => {
        log(`close failed: ${String(error)}`);
        void afterClose().finally(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
