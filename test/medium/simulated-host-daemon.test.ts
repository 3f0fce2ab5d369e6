import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module.js';
import { createLogger } from '../../src/common/logger.js';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { clusterBody, FAST_SIMULATION, tenantWithInfra, waitForPhase } from '../support/platform.js';
import { waitFor } from '../support/processes.js';
import { startSimulatedHostDaemon, type SimulatedHostDaemon } from '../support/simulated-host-daemon.js';
import { LogSink, startTestApp, type TestApp } from '../support/test-app.js';

jest.setTimeout(120000);

interface NodeView {
  id: string;
  name: string;
  phase: string;
}

/**
 * A simulated host served by a libvirtd of its own (`test+unix:///default?socket=…`): its domains
 * live in that daemon, where a real host keeps them, not in the worker that holds the host. A
 * worker that restarts finds the guests running and takes them as they are: no node is replaced.
 */
describe('a simulated host in a libvirtd of its own', () => {
  let t: TestApp;
  let daemon: SimulatedHostDaemon;
  let worker: INestApplicationContext | undefined;

  const startWorker = async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.forRoot(t.config, createLogger('info', 'worker', new LogSink()), 'worker')],
    }).compile();
    const w = await moduleRef.init();
    await w.get(JobRunner).start({ schedules: false });
    await w.get(HostLeases).start();
    return w;
  };

  beforeAll(async () => {
    t = await startTestApp({ ...FAST_SIMULATION, KAAS_HOST_LEASE_MS: '2000' });
    daemon = await startSimulatedHostDaemon();
    worker = await startWorker();
  }, 60000);
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await daemon?.stop();
  });

  it('is registered as simulated, runs a cluster, and keeps it through a worker restart', async () => {
    const reg = await t.admin.call('POST', '/v1/hosts', {
      name: 'sim-d',
      uri: daemon.uri,
      domainType: 'qemu',
      cpus: 64,
      memoryMiB: 262144,
    });
    expect(reg.status).toBe(201);
    expect(reg.body.simulated).toBe(true);
    const hostId = reg.body.id as string;
    await worker!.get(HostLeases).tick();
    await waitFor(
      'the host Ready',
      async () => (await t.admin.call('GET', `/v1/hosts/${hostId}`)).body.state === 'Ready',
    );

    const s = await tenantWithInfra(t, 'daemon-host');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 1 }));
    expect(created.status).toBe(202);
    const clusterId = created.body.id as string;
    await waitForPhase(s.client, clusterId, 'Running', 60000);
    const nodes = async () => (await s.client.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items as NodeView[];
    const before = await nodes();
    expect(before.map((n) => n.phase)).toEqual(['Ready', 'Ready']);

    // The domains are the daemon's: another connection to it sees them running.
    const conn = await LibvirtConnection.open(daemon.uri);
    try {
      const running = (await conn.listDomains()).filter((d) => d.active).map((d) => d.name);
      for (const n of before) expect(running).toContain(`kaas-node-${n.id}`);
    } finally {
      await conn.close();
    }

    // A new worker: its simulator never saw these guests start, yet they answer as booted.
    await worker!.close();
    worker = undefined;
    worker = await startWorker();
    await waitFor('the host held again', async () => {
      await worker!.get(HostLeases).tick();
      return (await t.admin.call('GET', `/v1/hosts/${hostId}`)).body.state === 'Ready';
    });
    // Several health passes (one a second): a guest that did not answer would be replaced.
    const events = async () =>
      (
        (await s.client.call('GET', `/v1/clusters/${clusterId}/events?limit=1000`)).body.items as { reason: string }[]
      ).map((e) => e.reason);
    const eventsBefore = await events();
    await new Promise((r) => setTimeout(r, 6000));
    const after = await nodes();
    expect(after.map((n) => n.id).sort()).toEqual(before.map((n) => n.id).sort());
    expect(after.map((n) => n.phase)).toEqual(['Ready', 'Ready']);
    expect((await s.client.call('GET', `/v1/clusters/${clusterId}`)).body.phase).toBe('Running');
    expect((await events()).length).toBe(eventsBefore.length);
  });

  it('refuses a daemon that does not answer, naming the uri', async () => {
    const res = await t.admin.call('POST', '/v1/hosts', {
      name: 'sim-gone',
      uri: 'test+unix:///default?socket=/nonexistent/libvirt-sock',
      domainType: 'qemu',
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body)).toContain('uri');
  });
});
