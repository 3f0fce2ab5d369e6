import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { loadConfigOrExit } from './config/bootstrap.js';
import { closeOnSignals } from './common/shutdown.js';
import { createLogger, PinoNestLogger } from './common/logger.js';
import { HostLeases } from './hypervisor/host-leases.service.js';
import { JobRunner } from './jobs/job-runner.service.js';

const config = loadConfigOrExit('kaas-worker');
const logger = createLogger(config.logLevel, 'worker');
try {
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, logger, 'worker'), {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  closeOnSignals(app, logger);
  await app.get(JobRunner).start();
  await app.get(HostLeases).start();
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'worker failed to start');
  logger.flush();
  process.exit(1);
}
