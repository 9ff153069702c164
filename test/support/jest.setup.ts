import { Logger } from '@nestjs/common';

// Clients built outside a Nest app log through the static logger: keep test output to errors.
Logger.overrideLogger(['error']);
