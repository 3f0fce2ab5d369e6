import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Logger } from 'pino';
import { requestContext } from '../../src/common/request-context.js';
import { APP_LOGGER } from '../../src/common/tokens.js';
import { BullJobQueue } from '../../src/jobs/bull-job-queue.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra } from '../support/platform.js';
import { waitFor } from '../support/processes.js';

type Line = Record<string, unknown>;

describe('request ids travel from the API into the jobs they cause', () => {
  let p: Platform;
  const lines = () => p.workerLogs.lines.map((l) => JSON.parse(l) as Line);

  beforeAll(async () => {
    p = await startPlatform();
    // The runner's line for each job it starts is a debug line.
    p.worker.get<Logger>(APP_LOGGER).level = 'debug';
  }, 60000);

  afterAll(async () => {
    await p?.close();
  });

  it("logs a job's lines with the X-Request-Id of the POST that enqueued it, and passes it on", async () => {
    const s = await tenantWithInfra(p, 'traced');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s), { 'X-Request-Id': 'trace-create-1' });
    expect(created.status).toBe(202);
    expect(created.headers.get('x-request-id')).toBe('trace-create-1');

    const started = await waitFor('the reconcile the POST enqueued', async () =>
      lines().filter((l) => l.msg === 'job started' && l.job === 'cluster.reconcile'),
    );
    expect(started[0]).toEqual(expect.objectContaining({ requestId: 'trace-create-1', process: 'worker' }));
    // The reconcile goes on through the nodes' jobs and looks again: enqueued by the first job, for
    // the same request.
    const again = await waitFor('the reconcile to run again', async () => {
      const runs = lines().filter((l) => l.msg === 'job started' && l.job === 'cluster.reconcile');
      return new Set(runs.map((l) => l.jobId)).size >= 2 ? runs : undefined;
    });
    for (const line of again) expect(line.requestId).toBe('trace-create-1');
    // The nodes' jobs on the host's queue, which the cluster's reconcile enqueued, carry it on.
    await waitFor('a node job of the request', async () =>
      lines().some((l) => l.msg === 'job started' && l.job === 'node.reconcile' && l.requestId === 'trace-create-1'),
    );
    // One key per line: the context's id is not written twice.
    for (const raw of p.workerLogs.lines.filter((l) => l.includes('trace-create-1')))
      expect(raw.split('"requestId"')).toHaveLength(2);
  });

  it('gives the job the id the API made up when the request came without one', async () => {
    const s = await tenantWithInfra(p, 'untraced');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { name: 'plain' }));
    expect(created.status).toBe(202);
    const requestId = created.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor('the reconcile of the new cluster', async () =>
      lines().some((l) => l.msg === 'job started' && l.job === 'cluster.reconcile' && l.requestId === requestId),
    );
  });

  it("names the request in a failed job's line too, and nothing for a job no request caused", async () => {
    const runner = p.worker.get(JobRunner);
    const seen: (string | undefined)[] = [];
    runner.register('test.flaky', async (payload, meta) => {
      seen.push(meta.requestId);
      // The handler gets its payload alone: the id rides beside it.
      expect(Object.keys(payload).sort()).toEqual(['failTimes', 'key']);
      throw new Error(`planned failure of ${payload.key}`);
    });
    const queue = p.worker.get(BullJobQueue);
    await requestContext.run({ requestId: 'trace-flaky-1' }, () =>
      queue.enqueue('test.flaky', { key: 'traced', failTimes: 1 }, { attempts: 1 }),
    );
    await queue.enqueue('test.flaky', { key: 'untraced', failTimes: 1 }, { attempts: 1 });
    const failures = await waitFor('both failure lines', async () => {
      const found = lines().filter((l) => l.msg === 'job failed for good' && l.job === 'test.flaky');
      return found.length === 2 ? found : undefined;
    });
    const traced = failures.find((l) => l.err === 'planned failure of traced');
    const untraced = failures.find((l) => l.err === 'planned failure of untraced');
    expect(traced).toEqual(expect.objectContaining({ requestId: 'trace-flaky-1' }));
    expect(untraced).not.toHaveProperty('requestId');
    expect(seen.sort()).toEqual(['trace-flaky-1', undefined]);
  });
});
