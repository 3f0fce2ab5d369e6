import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { BullJobQueue } from './bull-job-queue.js';
import { JobRunner } from './job-runner.service.js';
import { JobQueue } from './job-types.js';
import { redisProvider, REDIS } from './redis.provider.js';

@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [redisProvider, BullJobQueue, { provide: JobQueue, useExisting: BullJobQueue }, JobRunner],
  exports: [REDIS, JobQueue, BullJobQueue, JobRunner],
})
export class JobsModule {}
