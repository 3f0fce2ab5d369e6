import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { BullJobQueue } from '../jobs/bull-job-queue.js';
import { HostsRepository } from './hosts.repository.js';

/** One health sweep of every host, now (`kaasctl health run`). */
@ApiTags('operator: health')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1/health')
export class HealthSweepsController {
  constructor(
    private readonly hosts: HostsRepository,
    private readonly jobs: BullJobQueue,
  ) {}

  @Post('sweeps')
  @HttpCode(200)
  async sweep(@Body(EmptyBodyPipe) _b: object): Promise<{ items: Record<string, unknown>[] }> {
    const hosts = await this.hosts.list();
    const items = await Promise.all(
      hosts.map(async (h) => {
        try {
          const report = (await this.jobs.runAndWait('host.sweep', { hostId: h.id }, h.id, 30000)) as Record<
            string,
            unknown
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
