import { Injectable } from '@nestjs/common';
import { OnJob } from '../jobs/on-job.decorator.js';
import type { JobPayloads } from '../jobs/job-types.js';
import { EventsRepository } from './events.repository.js';

/** Rows per DELETE: each statement holds its row locks for milliseconds, not for the whole prune. */
const BATCH = 1000;
/** Clusters looked at per query of the cluster walk. */
const CLUSTER_PAGE = 500;

/**
 * Keeps the events table bounded: per cluster the newest `keep`, and nothing older than
 * `maxAgeDays`. Safe because nothing reads events back as state: what decisions need (remediation
 * history, the autoscaler's cool-down) lives in tables of its own.
 */
@Injectable()
export class EventsPruner {
  constructor(private readonly events: EventsRepository) {}

  @OnJob('maintenance.prune-events')
  async prune(payload: JobPayloads['maintenance.prune-events']): Promise<{ deleted: number }> {
    let deleted = 0;
    if (payload.maxAgeDays > 0) {
      const before = new Date(Date.now() - payload.maxAgeDays * 86_400_000);
      deleted += await inBatches(() => this.events.removeOlderThan(before, BATCH));
    }
    if (payload.keep > 0) {
      let after: string | undefined;
      for (;;) {
        const clusters = await this.events.clustersWithEvents(after, CLUSTER_PAGE);
        for (const clusterId of clusters) {
          const newestBeyond = await this.events.newestBeyond(clusterId, payload.keep);
          if (newestBeyond === undefined) continue;
          deleted += await inBatches(() => this.events.removeForClusterUpTo(clusterId, newestBeyond, BATCH));
        }
        if (clusters.length < CLUSTER_PAGE) break;
        after = clusters[clusters.length - 1];
      }
    }
    return { deleted };
  }
}

/** Repeats a bounded delete until one comes back short. */
async function inBatches(batch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await batch();
    total += n;
    if (n < BATCH) return total;
  }
}
