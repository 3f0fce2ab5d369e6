import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';
import { Database } from '../common/database.js';
import type { WorkerHttpConfig } from '../config/config.js';
import { HostLeases } from '../hypervisor/host-leases.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { AuthService } from '../tenants/auth.service.js';
import { MetricsService } from './metrics.service.js';
import { checkBearer } from './operator-access.js';
import { RateLimitService } from './rate-limit.service.js';
import { WorkerHttpServer } from './worker-http-server.js';

/**
 * Serves a worker's /metrics, /healthz and /readyz on its own port, closed with the application.
 * Ready means: the database and Redis answer, and the lease rounds run with every host lease this
 * worker counts as its own still surely its own. /metrics takes the API's rule (the admin token,
 * or an operator's API key) and serves this process's figures (see MetricsService).
 *
 * A port taken by another process stops the worker when KAAS_WORKER_PORT named it; the default
 * port, taken (say, by the first of several workers on one machine), costs this worker only its
 * endpoint, with an error in the log. Resolves with the port listened on, or undefined.
 */
export async function startWorkerHttp(
  app: INestApplicationContext,
  settings: WorkerHttpConfig,
  logger: Logger,
): Promise<number | undefined> {
  const metrics = app.get(MetricsService);
  const db = app.get(Database);
  const jobs = app.get(JobQueue);
  const leases = app.get(HostLeases);
  const auth = app.get(AuthService);
  const limits = app.get(RateLimitService);
  const server = new WorkerHttpServer({
    logger,
    metrics: () => metrics.processMetrics(),
    metricsContentType: metrics.registry.contentType,
    readiness: [
      ['database', () => db.ping()],
      ['redis', () => jobs.ping()],
      [
        'leases',
        async () => {
          const { ok, held, lapsed } = leases.leaseHealth();
          if (!ok) throw Object.assign(new Error('host leases not renewed'), { counts: { held, lapsed } });
          return { held, lapsed };
        },
      ],
    ],
    authorize: (request) => checkBearer(auth, limits, request, true),
  });
  try {
    const port = await server.listen(settings.port, settings.host);
    metrics.closeWithApplication(server);
    logger.info({ host: settings.host, port }, 'worker metrics and health on their own port');
    return port;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (settings.explicit || code !== 'EADDRINUSE') throw err;
    logger.error(
      { host: settings.host, port: settings.port, err: (err as Error).message },
      'the default worker port is taken (another worker on this machine?): this worker serves no /metrics; ' +
        'give each worker its own KAAS_WORKER_PORT',
    );
    return undefined;
  }
}
