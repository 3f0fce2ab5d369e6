import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { promtoolCheckMetrics } from '../support/promtool.js';
import { freePort, freeStablePort, type Proc, randomEnv, startProcess, waitFor } from '../support/processes.js';
import { Client } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

describe("the real worker process's own port (KAAS_WORKER_PORT)", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let api: Proc;
  let worker: Proc;
  let apiClient: Client;
  let workerClient: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = { ...randomEnv(db.url, await freePort()), KAAS_WORKER_PORT: String(await freeStablePort()) };
    api = startProcess('main.js', env);
    worker = startProcess('worker.js', env);
    apiClient = new Client(`http://127.0.0.1:${env.KAAS_PORT}`, env.KAAS_ADMIN_TOKEN);
    workerClient = new Client(`http://127.0.0.1:${env.KAAS_WORKER_PORT}`);
    await waitFor('the API', async () => (await apiClient.call('GET', '/readyz')).status === 200, 30000);
    await waitFor('the worker', async () => worker.output().includes('"worker started"'), 30000);
  }, 60000);

  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await db?.drop();
  });

  it('is ready once its lease rounds run, and says so to anyone', async () => {
    expect((await workerClient.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await waitFor('the worker to be ready', async () => {
      const res = await workerClient.call('GET', '/readyz');
      return res.status === 200 ? res.body : undefined;
    });
    expect(ready).toEqual({
      status: 'ready',
      checks: { database: { ok: true }, redis: { ok: true }, leases: { ok: true, held: 0, lapsed: 0 } },
    });
  });

  it('serves /metrics to the admin token only, and both processes pass promtool check metrics', async () => {
    expect((await workerClient.call('GET', '/metrics')).status).toBe(401);
    const scrapes = {
      api: await apiClient.call('GET', '/metrics'),
      worker: await workerClient.as(env.KAAS_ADMIN_TOKEN).call('GET', '/metrics'),
    };
    for (const [name, res] of Object.entries(scrapes)) {
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
      expect({ name, ...(await promtoolCheckMetrics(String(res.body))) }).toEqual({ name, code: 0, output: '' });
    }
    expect(String(scrapes.worker.body)).toMatch(/^kaas_queue_jobs\{queue="reconcile",state="waiting"\} \d+$/m);
    expect(String(scrapes.worker.body)).toContain('# TYPE kaas_job_duration_seconds histogram');
  });

  it('stops a second worker given the same port, with one line naming why', async () => {
    const second = startProcess('worker.js', env);
    expect(await second.stop('SIGCONT')).toBe(1);
    const fatal = second
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: string })
      .filter((l) => l.level >= 60);
    expect(fatal).toEqual([
      expect.objectContaining({ msg: 'worker failed to start', err: expect.stringContaining('EADDRINUSE') }),
    ]);
  });

  it('closes the port when the worker stops on SIGTERM', async () => {
    expect(await worker.stop('SIGTERM')).toBe(0);
    await expect(workerClient.call('GET', '/healthz')).rejects.toThrow();
  });
});
