import type { AppConfig } from '../config/config.js';
import type { ScheduledJob } from './job-types.js';

/** Repeatable jobs, registered (idempotently, by id) each time a worker starts. */
export function scheduleTable(_config: AppConfig): ScheduledJob[] {
  return [
    {
      id: 'prune-idempotency',
      name: 'maintenance.prune-idempotency',
      everyMs: 60 * 60 * 1000,
      payload: { olderThanHours: 24 },
    },
  ];
}
