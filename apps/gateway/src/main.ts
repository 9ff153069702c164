import { closeOnSignals, loadConfigOrExit } from '@app/runtime';
import { Logger } from '@nestjs/common';
import { createGateway } from './gateway.factory';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await createGateway(config);
  const logger = new Logger('Gateway');
  closeOnSignals(app, (line) => logger.log(line));
  await app.listen(config.port, '0.0.0.0');
  logger.log(`gateway listening on ${await app.getUrl()} (try /fib/30)`);
}

void bootstrap();
