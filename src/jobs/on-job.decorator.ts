import { SetMetadata } from '@nestjs/common';
import type { JobName } from './job-types.js';

export const ON_JOB = 'kaas:on-job';

/** Marks a provider method as the handler of a job; the worker finds handlers at start-up. */
export const OnJob = (name: JobName) => SetMetadata(ON_JOB, name);
