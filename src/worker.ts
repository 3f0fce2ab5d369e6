import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { loadConfigOrExit } from './config/bootstrap.js';
import { closeOnSignals } from './common/shutdown.js';
import { startMemoryTrim } from './common/memory-trim.js';
import { createLogger, PinoNestLogger } from './common/logger.js';
import { HostLeases } from './hypervisor/host-leases.service.js';
import { JobRunner } from './jobs/job-runner.service.js';
import { startWorkerHttp } from './platform/worker-http.js';

const config = loadConfigOrExit('kaas-worker');
const logger = createLogger(config.logLevel, 'worker');
try {
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, logger, 'worker'), {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  closeOnSignals(app, logger);
  // First, so that /healthz answers and /readyz says "not ready" while the rest starts.
  if (config.workerHttp) await startWorkerHttp(app, config.workerHttp, logger);
  await app.get(JobRunner).start();
  await app.get(HostLeases).start();
  startMemoryTrim(config.memoryTrimMs, logger);
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'worker failed to start');
  logger.flush();
  process.exit(1);
}
