import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminOnly, Public } from '../common/auth.decorators.js';
import { Database } from '../common/database.js';
import { ApiErrors, ApiOkText } from '../common/openapi.js';
import { JobQueue } from '../jobs/job-types.js';
import { HealthResponse, ReadinessResponse } from './health.dto.js';
import { MetricsService } from './metrics.service.js';
import { probeReadiness } from './readiness-probe.js';
import { ReadinessRegistry } from './readiness.registry.js';

@ApiTags('platform')
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
  @ApiOperation({ summary: 'whether the process is alive', operationId: 'getHealth', security: [] })
  @ApiOkResponse({ type: HealthResponse })
  healthz(): HealthResponse {
    return { status: 'ok' };
  }

  /**
   * Open to anyone, so it says only whether each part is up, with counts: no tenant, host name or
   * error text (operators find those in `GET /v1/hosts` and the logs).
   */
  @Get('readyz')
  @ApiOperation({
    summary: "whether the database, Redis and every host's libvirt connection answer",
    operationId: 'getReadiness',
    security: [],
  })
  @ApiOkResponse({ type: ReadinessResponse, description: 'ready' })
  @ApiResponse({ status: 503, type: ReadinessResponse, description: 'not ready: the checks say which part is not' })
  async readyz(@Res() res: Response): Promise<void> {
    const { ok, body } = await probeReadiness([
      ['database', () => this.db.ping()],
      ['redis', () => this.jobs.ping()],
      ...this.readiness.checks(),
    ]);
    res.status(ok ? 200 : 503).json(body);
  }

  /** Per-tenant figures (ids, cluster and node names, usage): the operator's only. */
  @Get('metrics')
  @AdminOnly()
  @ApiOperation({ summary: 'metrics in the Prometheus text format', operationId: 'getMetrics' })
  @ApiBearerAuth()
  @ApiOkText('text/plain', 'Prometheus text format 0.0.4')
  @ApiErrors(401, 403, 429, 500)
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.metricsService.metrics();
  }
}
