import { Module } from '@nestjs/common';
import { HostJobsHandler } from './host-jobs.handler.js';
import { HostLeases } from './host-leases.service.js';
import { HostsReadiness } from './hosts-readiness.js';
import { HealthSweepsController } from './health-sweeps.controller.js';
import { HostsController } from './hosts.controller.js';
import { HostsRepository } from './hosts.repository.js';
import { HostsService } from './hosts.service.js';

@Module({
  controllers: [HostsController, HealthSweepsController],
  providers: [HostsRepository, HostsService, HostLeases, HostsReadiness, HostJobsHandler],
  exports: [HostsRepository, HostsService, HostLeases],
})
export class HypervisorModule {}
