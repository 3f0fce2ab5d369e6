import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';

/** Ctrl-C or SIGTERM: close the application (queues, workers, database) and exit 0. */
export function closeOnSignals(app: INestApplicationContext, logger: Logger): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15000);
    force.unref();
    app
      .close()
      .then(() => {
        logger.flush();
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err: (err as Error).message }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
