import 'reflect-metadata';
import { loadConfigOrExit } from './config/bootstrap.js';
import { closeOnSignals } from './common/shutdown.js';
import { createLogger } from './common/logger.js';
import { createHttpApp } from './http-app.js';
import { startMemoryTrim } from './common/memory-trim.js';

const config = loadConfigOrExit('kaas-api');
const logger = createLogger(config.logLevel, 'api');
try {
  const app = await createHttpApp(config, logger);
  closeOnSignals(app, logger);
  await app.listen(config.port, config.host);
  startMemoryTrim(config.memoryTrimMs, logger);
  logger.info({ url: `http://${config.host}:${config.port}`, docs: '/docs' }, 'kaas API listening');
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'API failed to start');
  logger.flush();
  process.exit(1);
}
