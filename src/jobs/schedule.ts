import type { AppConfig } from '../config/config.js';
import type { ScheduledJob } from './job-types.js';

/** Repeatable jobs, registered (idempotently, by id) each time a worker starts. */
export function scheduleTable(config: AppConfig): ScheduledJob[] {
  return [
    // Level-triggered safety net: every cluster not at rest gets a pass, even if a trigger was lost.
    { id: 'clusters-resync', name: 'clusters.resync', everyMs: config.resyncSeconds * 1000, payload: {} },
    // Worker autoscalers read the usage the health sweeps sample, at the same pace.
    {
      id: 'clusters-autoscale',
      name: 'clusters.autoscale',
      everyMs: config.healthIntervalSeconds * 1000,
      payload: {},
    },
    // Network rows of what was deleted while no worker ran, or by hand, go at this pace; deletions
    // the platform makes queue their own collection at once.
    { id: 'network-collect', name: 'network.collect', everyMs: 60 * 1000, payload: {} },
    // Scheduled backups are due to the minute at most.
    { id: 'backups-schedule', name: 'backups.schedule', everyMs: 60 * 1000, payload: {} },
    {
      id: 'prune-idempotency',
      name: 'maintenance.prune-idempotency',
      everyMs: 60 * 60 * 1000,
      payload: { olderThanHours: 24 },
    },
    // Often enough that a tenant's burst of events (every pause and resume adds one) is trimmed
    // before it builds up; a pass that finds nothing to delete reads only index pages.
    {
      id: 'prune-events',
      name: 'maintenance.prune-events',
      everyMs: 10 * 60 * 1000,
      payload: { keep: config.retention.eventsKeep, maxAgeDays: config.retention.eventsMaxAgeDays },
    },
    {
      id: 'prune-audit',
      name: 'maintenance.prune-audit',
      everyMs: 60 * 60 * 1000,
      payload: { olderThanDays: config.retention.auditDays },
    },
  ];
}
