import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminOnly, Public } from '../common/auth.decorators.js';
import { Database } from '../common/database.js';
import { JobQueue } from '../jobs/job-types.js';
import { MetricsService } from './metrics.service.js';
import { ReadinessRegistry } from './readiness.registry.js';

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Only numbers from what a readiness check returns: nothing that names anything. */
function counts(extra: unknown): Record<string, number> {
  if (!extra || typeof extra !== 'object') return {};
  return Object.fromEntries(Object.entries(extra).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

@ApiExcludeController()
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly db: Database,
    private readonly jobs: JobQueue,
    private readonly metricsService: MetricsService,
    private readonly readiness: ReadinessRegistry,
  ) {}

  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  /**
   * Open to anyone, so it says only whether each part is up, with counts: no tenant, host name or
   * error text (operators find those in `GET /v1/hosts` and the logs).
   */
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const checks: Record<string, { ok: boolean; [count: string]: number | boolean }> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        checks[name] = { ok: true, ...counts(await within(2000, fn())) };
      } catch (err) {
        checks[name] = { ok: false, ...counts((err as { counts?: unknown }).counts) };
      }
    };
    await Promise.all([
      probe('database', () => this.db.ping()),
      probe('redis', () => this.jobs.ping()),
      ...this.readiness.checks().map(([name, fn]) => probe(name, fn)),
    ]);
    const ok = Object.values(checks).every((c) => c.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks });
  }

  /** Per-tenant figures (ids, cluster and node names, usage): the operator's only. */
  @Get('metrics')
  @AdminOnly()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.metricsService.metrics();
  }
}
