import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/auth.decorators.js';
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

  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const checks: Record<string, { ok: boolean; error?: string; [k: string]: unknown }> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        const extra = await within(2000, fn());
        checks[name] = { ok: true, ...(extra && typeof extra === 'object' ? extra : {}) };
      } catch (err) {
        const extra = (err as { hosts?: unknown }).hosts;
        checks[name] = { ok: false, error: (err as Error).message, ...(extra ? { hosts: extra } : {}) };
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

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.metricsService.metrics();
  }
}
