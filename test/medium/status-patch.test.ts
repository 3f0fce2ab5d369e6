import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClustersRepository } from '../../src/clusters/clusters.repository.js';
import { ControlPlaneLeaver, LEFT_CONDITION } from '../../src/control-plane/control-plane-leaver.service.js';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import type { NodeEntity } from '../../src/nodes/node.entity.js';
import { NodesRepository } from '../../src/nodes/nodes.repository.js';
import { NodeHealthStep } from '../../src/reconcilers/host-sweep/node-health.step.js';
import { clusterBody, type Platform, startPlatform, tenantWithInfra, waitForPhase } from '../support/platform.js';

/**
 * Status is written by patch: each writer touches only its own fields and condition types, and a
 * write computed from an older snapshot is computed again on the fresh row, never applied blindly.
 */
describe('status patches', () => {
  let p: Platform;
  let nodes: NodesRepository;
  let clusters: ClustersRepository;
  let clusterId: string;
  let nodeIds: string[];

  beforeAll(async () => {
    p = await startPlatform();
    nodes = p.app.get(NodesRepository);
    clusters = p.app.get(ClustersRepository);
    const s = await tenantWithInfra(p, 'patches');
    const created = await s.client.call('POST', '/v1/clusters', clusterBody(s));
    expect(created.status).toBe(202);
    clusterId = created.body.id;
    await waitForPhase(s.client, clusterId, 'Running');
    nodeIds = (await nodes.forCluster(clusterId)).map((n) => n.id);
  }, 60000);
  afterAll(async () => {
    await p?.close();
  });

  const conditionTypes = async (id: string) => (await nodes.findById(id))!.conditions.map((c) => c.type);

  it('keeps both conditions when two writers patch one node from the same snapshot', async () => {
    const id = nodeIds[1];
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([nodes.findById(id), nodes.findById(id)]);
      const wrote = await Promise.all([
        nodes.patchStatus(a!, { conditions: [{ type: `WriterA${round}`, status: 'True', reason: 'A', message: 'a' }] }),
        nodes.patchStatus(b!, { conditions: [{ type: `WriterB${round}`, status: 'True', reason: 'B', message: 'b' }] }),
      ]);
      expect(wrote).toEqual([true, true]);
      const types = await conditionTypes(id);
      expect(types).toEqual(expect.arrayContaining([`WriterA${round}`, `WriterB${round}`]));
    }
    // The snapshots are kept up to date with what was written.
    const fresh = (await nodes.findById(id))!;
    expect(fresh.statusVersion).toBeGreaterThanOrEqual(20);
  });

  it('computes a change again on the fresh row, so no concurrent increment is lost', async () => {
    const id = nodeIds[2];
    const snapshots = await Promise.all(Array.from({ length: 12 }, () => nodes.findById(id)));
    const count = (n: NodeEntity) => Number(n.conditions.find((c) => c.type === 'Counter')?.message ?? '0');
    await Promise.all(
      snapshots.map((s) =>
        nodes.patchStatus(s!, (current) => ({
          conditions: [{ type: 'Counter', status: 'True', reason: 'Counted', message: String(count(current) + 1) }],
        })),
      ),
    );
    expect(count((await nodes.findById(id))!)).toBe(12);
  });

  it('writes nothing when a patch changes nothing', async () => {
    const node = (await nodes.findById(nodeIds[2]))!;
    const version = node.statusVersion;
    const same = node.conditions.find((c) => c.type === 'Counter')!;
    expect(await nodes.patchStatus(node, { phase: node.phase, conditions: [same] })).toBe(false);
    expect((await nodes.findById(node.id))!.statusVersion).toBe(version);
  });

  it('keeps the leave mark and the health verdict written at once by the real writers', async () => {
    const runtime = p.worker.get(HostLeases).runtime(p.hostId)!;
    // The etcd bundle's masters leave the control plane (workers have nothing to leave).
    const id = (await nodes.forCluster(clusterId)).find((n) => n.role === 'master')!.id;
    // Its guest stops answering ready: the health step has a change to write.
    const fault = await p.admin.call('POST', `/v1/hosts/${p.hostId}/faults`, { nodeId: id, fault: 'unready' });
    expect(fault.status).toBeLessThan(300);
    const cluster = (await clusters.findById(clusterId))!;
    const forHealth = (await nodes.findById(id))!;
    const forLeave = (await nodes.findById(id))!;
    await Promise.all([
      p.worker.get(NodeHealthStep).run(p.hostId, runtime.backend!, [forHealth]),
      p.worker.get(ControlPlaneLeaver).leave(forLeave, cluster, 'simulated'),
    ]);
    const node = (await nodes.findById(id))!;
    expect(node.conditions.find((c) => c.type === LEFT_CONDITION)).toMatchObject({ status: 'False', reason: 'Left' });
    expect(node.conditions.find((c) => c.type === 'NodeHealthy')).toMatchObject({ reason: 'NotReady' });
    expect(node.phase).toBe('NotReady');
  });

  it('refuses a cluster status computed before a deletion, which stays Deleting', async () => {
    const stale = (await clusters.findById(clusterId))!;
    await p.stopWorker();
    await clusters.markDeleting(clusterId);
    expect(await clusters.patchStatus(stale, { phase: 'Running', conditions: stale.conditions })).toBe(false);
    const now = (await clusters.findById(clusterId))!;
    expect(now.phase).toBe('Deleting');
    expect(now.statusVersion).toBe(stale.statusVersion + 1);
    // A pass that read the row after the deletion writes as usual.
    expect(await clusters.patchStatus(now, { phase: 'Deleting', conditions: [] })).toBe(true);
  });
});
