// First: the trace SDK (when OTEL_* variables ask for it) is registered before any module makes a span.
import { shutdownTracing } from '@app/observability/tracing/register';
import { closeOnSignals, describeError, loadConfigOrExit } from '@app/runtime';
import { Logger } from '@nestjs/common';
import { createGateway } from './gateway.factory';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await createGateway(config);
  const logger = new Logger('Gateway');
  closeOnSignals(app, (line) => logger.log(line), shutdownTracing);
  await app.listen(config.port, '0.0.0.0');
  logger.log(`gateway listening on ${await app.getUrl()} (try /fib/30)`);
}

bootstrap().catch((error: unknown) => {
  // e.g. the HTTP port is taken: one line and a non-zero exit, not a stack from an unhandled rejection
  process.stderr.write(`start failed: ${describeError(error)}\n`);
  process.exit(1);
});
