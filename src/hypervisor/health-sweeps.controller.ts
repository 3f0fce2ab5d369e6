import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOperation } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { ApiEmptyBody, ApiList, ApiOperatorRoutes } from '../common/openapi.js';
import { BullJobQueue } from '../jobs/bull-job-queue.js';
import { HealthSweepResponse } from './hosts.dto.js';
import { HostsRepository } from './hosts.repository.js';

/** One health sweep of every host, now (`kaasctl health run`). */
@ApiOperatorRoutes('operator: health')
@AdminOnly()
@Controller('v1/health')
export class HealthSweepsController {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly jobs: BullJobQueue,
  ) {}

  @Post('sweeps')
  @HttpCode(200)
  @ApiOperation({ summary: 'sweep every host now and report what each sweep found', operationId: 'runHealthSweeps' })
  @ApiEmptyBody()
  @ApiList(HealthSweepResponse, "each host's sweep; a host that did not answer in 30 s has `error`")
  async sweep(@Body(EmptyBodyPipe) _b: object): Promise<{ items: HealthSweepResponse[] }> {
    const hosts = await this.hosts.list();
    const items = await Promise.all(
      hosts.map(async (h) => {
        try {
          const report = (await this.jobs.runAndWait('host.sweep', { hostId: h.id }, h.id, 30000)) as Omit<
            HealthSweepResponse,
            'host'
          >;
          return { host: h.name, ...report };
        } catch (err) {
          return {
            host: h.name,
            nodes: 0,
            unhealthy: 0,
            recreated: 0,
            orphansDestroyed: 0,
            ms: 0,
            error: (err as Error).message,
          };
        }
      }),
    );
    return { items };
  }
}
