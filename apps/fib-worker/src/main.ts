import { closeOnSignals, loadConfigOrExit } from '@app/runtime';
import { Logger } from '@nestjs/common';
import { createFibWorker } from './fib-worker.factory';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await createFibWorker(config);
  const logger = new Logger('FibWorker');
  closeOnSignals(app, (line) => logger.log(line));
  await app.listen(config.workerHttpPort, '0.0.0.0');
  logger.log(`worker on ${config.rpcQueue}; health at ${await app.getUrl()}/health`);
}

void bootstrap();
