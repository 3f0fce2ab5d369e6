import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { domainXml } from '../../src/hypervisor/xml/domain-xml.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { MetricsService } from '../../src/platform/metrics.service.js';
import { waitFor } from '../support/processes.js';
import {
  clusterBody,
  type Platform,
  startPlatform,
  type TenantSetup,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';
import type { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';

interface NodeView {
  id: string;
  role: string;
  phase: string;
  name: string;
}

jest.setTimeout(90000);

describe('keeping clusters at their declared size (simulated host)', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform({ KAAS_RESYNC_SECONDS: '1' });
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  async function cluster(s: TenantSetup, over: Record<string, unknown>) {
    const res = await s.client.call('POST', '/v1/clusters', clusterBody(s, over));
    expect(res.status).toBe(202);
    await waitForPhase(s.client, res.body.id, 'Running', 30000);
    return res.body.id as string;
  }
  const nodesOf = async (s: TenantSetup, id: string) =>
    (await s.client.call('GET', `/v1/clusters/${id}/nodes`)).body.items as NodeView[];
  const reasons = async (s: TenantSetup, id: string) =>
    ((await s.client.call('GET', `/v1/clusters/${id}/events?limit=1000`)).body.items as { reason: string }[]).map(
      (e) => e.reason,
    );

  it('replaces a worker whose VM died and returns to Running with no help', async () => {
    const s = await tenantWithInfra(p, 'crash');
    const id = await cluster(s, { settings: { unhealthyTimeoutSeconds: 5 } });
    const victim = (await nodesOf(s, id)).find((n) => n.role === 'worker')!;
    expect(
      (await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, { nodeId: victim.id, fault: 'crash' })).status,
    ).toBe(202);
    await waitFor(
      'the dead worker to be replaced',
      async () => !(await nodesOf(s, id)).some((n) => n.id === victim.id),
      30000,
    );
    const after = await waitForPhase(s.client, id, 'Running', 30000);
    expect(after.nodeCounts).toEqual({ desired: 3, ready: 3 });
    expect(await reasons(s, id)).toEqual(
      expect.arrayContaining(['NodeUnhealthy', 'RemediationStarted', 'NodeDeleted']),
    );
  });

  it('refuses to remediate when 3 of 4 workers die under maxUnhealthy 40%', async () => {
    const s = await tenantWithInfra(p, 'mass');
    const id = await cluster(s, { workers: 4, settings: { maxUnhealthy: '40%' } });
    const workers = (await nodesOf(s, id)).filter((n) => n.role === 'worker').slice(0, 3);
    // The three die together: hold remediation until all three are seen, as one outage would be.
    await s.client.call('POST', `/v1/clusters/${id}/pause`, {});
    for (const w of workers)
      await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, { nodeId: w.id, fault: 'crash' });
    await waitFor(
      'three unhealthy nodes',
      async () => (await reasons(s, id)).filter((r) => r === 'NodeUnhealthy').length === 3,
      30000,
    );
    await s.client.call('POST', `/v1/clusters/${id}/resume`, {});
    const degraded = await waitForPhase(s.client, id, 'Degraded', 30000, (c) =>
      (c.conditions as { type: string; status: string }[]).some(
        (x) => x.type === 'RemediationAllowed' && x.status === 'False',
      ),
    );
    expect(
      (degraded.conditions as { type: string; reason: string }[]).find((c) => c.type === 'RemediationAllowed')?.reason,
    ).toBe('TooManyUnhealthy');
    await new Promise((r) => setTimeout(r, 2000));
    const still = await nodesOf(s, id);
    for (const w of workers) expect(still.some((n) => n.id === w.id)).toBe(true);
    expect(await reasons(s, id)).toContain('RemediationShortCircuited');
    expect(await reasons(s, id)).not.toContain('RemediationStarted');
  });

  it('recreates a VM deleted behind its back', async () => {
    const s = await tenantWithInfra(p, 'drift');
    const id = await cluster(s, { workers: 1 });
    const worker = (await nodesOf(s, id)).find((n) => n.role === 'worker')!;
    const driver = p.worker.get(HostLeases).runtime(p.hostId)!.backend!;
    p.worker.get(HostLeases).runtime(p.hostId)!.expectStop(libvirtNames.domain(worker.id));
    await driver.removeDomain(libvirtNames.domain(worker.id));
    await waitFor(
      'the VM to come back',
      async () => (await driver.domainState(libvirtNames.domain(worker.id))) === 'running',
      20000,
    );
    await waitForPhase(s.client, id, 'Running', 20000);
    expect((await nodesOf(s, id)).map((n) => n.id)).toContain(worker.id);
    expect(await reasons(s, id)).toContain('VmRecreated');
  });

  it('collects an orphan VM that carries platform metadata but has no node', async () => {
    const driver = p.worker.get(HostLeases).runtime(p.hostId)!.backend as LibvirtHostBackend;
    const nodeId = randomUUID();
    const name = libvirtNames.domain(nodeId);
    await driver.conn.defineDomain(
      domainXml({
        name,
        type: 'qemu',
        vcpus: 1,
        memoryMiB: 128,
        boot: { kind: 'disk' },
        disks: [],
        nics: [],
        owner: { tenantId: randomUUID(), clusterId: randomUUID(), nodeId, role: 'worker' },
      }),
    );
    await driver.startDomain(name);
    await waitFor('the orphan to be destroyed', async () => (await driver.domainState(name)) === 'absent', 20000);
    // The worker that destroyed it counts it (its own registry: /metrics of that process).
    const counted = async () =>
      Number(/^kaas_orphans_destroyed_total (\d+)/m.exec(await p.worker.get(MetricsService).metrics())?.[1]);
    await waitFor('the orphan to be counted', async () => (await counted()) >= 1, 10000);
    expect(await counted()).toBeGreaterThanOrEqual(1);
  });

  it('replaces a node on request, new first', async () => {
    const s = await tenantWithInfra(p, 'manual');
    const id = await cluster(s, { workers: 1 });
    const worker = (await nodesOf(s, id)).find((n) => n.role === 'worker')!;
    const res = await s.client.call('POST', `/v1/clusters/${id}/nodes/${worker.id}/replace`, {});
    expect(res.status).toBe(202);
    await waitFor('the old worker to go', async () => !(await nodesOf(s, id)).some((n) => n.id === worker.id), 20000);
    await waitForPhase(s.client, id, 'Running', 20000);
    expect((await nodesOf(s, id)).filter((n) => n.role === 'worker')).toHaveLength(1);
  });

  it('pauses remediation for maintenance', async () => {
    const s = await tenantWithInfra(p, 'paused');
    const id = await cluster(s, { workers: 1, settings: { unhealthyTimeoutSeconds: 5 } });
    expect((await s.client.call('POST', `/v1/clusters/${id}/pause`, {})).body.paused).toBe(true);
    const worker = (await nodesOf(s, id)).find((n) => n.role === 'worker')!;
    await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, { nodeId: worker.id, fault: 'crash' });
    await waitForPhase(s.client, id, 'Degraded', 20000);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await nodesOf(s, id)).some((n) => n.id === worker.id)).toBe(true);
    await s.client.call('POST', `/v1/clusters/${id}/resume`, {});
    await waitFor(
      'the worker to be replaced after resume',
      async () => !(await nodesOf(s, id)).some((n) => n.id === worker.id),
      20000,
    );
    await waitForPhase(s.client, id, 'Running', 20000);
  });
});
