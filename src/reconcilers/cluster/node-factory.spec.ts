import { describe, expect, it } from '@jest/globals';
import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import type { ClustersRepository } from '../../clusters/clusters.repository.js';
import type { Database, Tx } from '../../common/database.js';
import { DomainError } from '../../common/domain-error.js';
import type { AppConfig } from '../../config/config.js';
import type { EventRecord, EventsService } from '../../events/events.service.js';
import type { HostEntity } from '../../hypervisor/host.entity.js';
import type { HostsRepository } from '../../hypervisor/hosts.repository.js';
import type { JobQueue } from '../../jobs/job-types.js';
import type { VpcsService } from '../../networks/vpcs.service.js';
import type { NodeEntity } from '../../nodes/node.entity.js';
import type { NewNode, NodesRepository } from '../../nodes/nodes.repository.js';
import { NodeFactory } from './node-factory.js';

const cluster = {
  id: 'c1',
  tenantId: 't1',
  name: 'web',
  vpcId: 'v1',
  storagePoolId: 'p1',
  version: 'v1',
  certificatesGeneration: 1,
  vcpus: 2,
  memoryMiB: 2048,
  diskGiB: 20,
  deletingAt: null,
  restoreBackupId: null,
  restoredAt: null,
  workerPools: [
    { name: 'default', count: 2, labels: {}, taints: [], nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } },
    {
      name: 'big',
      count: 1,
      labels: { size: 'big' },
      taints: [],
      nodeSpec: { vcpus: 8, memoryMiB: 8192, diskGiB: 20 },
    },
  ],
} as unknown as ClusterEntity;

function host(name: string, cpus: number): HostEntity {
  return { id: `h-${name}`, name, state: 'Ready', drained: false, cpus, memoryMiB: 65536, diskGiB: null } as HostEntity;
}

function setup(opts: { hosts: HostEntity[]; addresses?: number; existing?: { hostId: string; role: string }[] }) {
  const statements: string[] = [];
  const inserted: NewNode[][] = [];
  const events: EventRecord[][] = [];
  const queued: { nodeId: string; hostId?: string }[] = [];
  let transactions = 0;
  let addresses = opts.addresses ?? 100;
  const tx = {
    query: async (sql: string) => {
      statements.push(sql.trim().split(/\s+/).slice(0, 3).join(' '));
      return [];
    },
  } as unknown as Tx;
  const db = {
    transaction: async (work: (tx: Tx) => Promise<unknown>) => {
      transactions++;
      return work(tx);
    },
  } as unknown as Database;
  const clusters = { lock: async () => cluster } as unknown as ClustersRepository;
  const existing = opts.existing ?? [];
  const nodes = {
    hostAllocations: async () => new Map(),
    clusterLayout: async () => {
      const spread = new Map<string, { masters: number; workers: number }>();
      for (const n of existing) {
        const at = spread.get(n.hostId) ?? { masters: 0, workers: 0 };
        if (n.role === 'master') at.masters++;
        else at.workers++;
        spread.set(n.hostId, at);
      }
      return { spread, maxOrdinal: { master: existing.some((n) => n.role === 'master') ? 0 : -1, worker: -1 } };
    },
    insertMany: async (_tx: Tx, rows: NewNode[]) => {
      inserted.push(rows);
      return rows.map((r) => ({ ...r, phase: 'Pending' }) as NodeEntity);
    },
  } as unknown as NodesRepository;
  const hosts = { list: async () => opts.hosts } as unknown as HostsRepository;
  const vpcs = {
    allocateAddress: async () => {
      if (addresses === 0) throw DomainError.unprocessable('VPC "net" (10.0.0.0/24) has no free address');
      return `10.0.0.${100 - --addresses}`;
    },
  } as unknown as VpcsService;
  const eventsService = { recordAll: async (e: EventRecord[]) => void events.push(e) } as unknown as EventsService;
  const jobs = {
    enqueue: async (_name: string, payload: { nodeId: string }, o: { hostId?: string }) =>
      void queued.push({ nodeId: payload.nodeId, hostId: o.hostId }),
  } as unknown as JobQueue;
  const config = { cpuOvercommit: 1, memoryOvercommit: 1 } as AppConfig;
  const factory = new NodeFactory(config, db, clusters, nodes, hosts, vpcs, eventsService, jobs);
  return { factory, inserted, events, queued, statements, transactions: () => transactions };
}

describe('NodeFactory.createMany', () => {
  it("makes a pass's nodes in one transaction and one insert, each placed seeing the ones before it", async () => {
    const s = setup({
      hosts: [host('a', 64), host('b', 64), host('c', 64)],
      existing: [{ hostId: 'h-a', role: 'master' }],
    });
    const made = await s.factory.createMany(cluster, [{ pool: 'default' }, { pool: 'default' }, { pool: 'big' }]);
    expect(s.transactions()).toBe(1);
    expect(s.inserted).toHaveLength(1);
    expect(made.map((n) => n.name)).toEqual(['web-worker-0', 'web-worker-1', 'web-big-2']);
    // Workers spread over the hosts with the fewest of the cluster's nodes: b, c, then a.
    expect(made.map((n) => n.hostId)).toEqual(['h-b', 'h-c', 'h-a']);
    expect(new Set(made.map((n) => n.address)).size).toBe(3);
    expect(made[2]).toMatchObject({ vcpus: 8, labels: { size: 'big' }, pool: 'big' });
    // Their volumes in one statement, their events in one, a pass of their own queued for each.
    expect(s.statements).toEqual(['INSERT INTO volumes']);
    expect(s.events).toHaveLength(1);
    expect(s.events[0].map((e) => [e.reason, e.target.nodeId])).toEqual(made.map((n) => ['NodeCreated', n.id]));
    expect(s.events[0][2].message).toBe(
      `worker web-big-2 (pool big) placed on host h-a with address ${made[2].address}`,
    );
    expect(s.queued).toEqual(made.map((n) => ({ nodeId: n.id, hostId: n.hostId })));
  });

  it('says which nodes cannot be made and makes the others', async () => {
    // Room for one 8-vCPU worker and a small one, not for two big ones.
    const s = setup({ hosts: [host('a', 12)] });
    const made = await s.factory.createMany(cluster, [
      { pool: 'big' },
      { pool: 'big' },
      { pool: 'default', replaces: 'old-1' },
      { pool: 'gone' },
    ]);
    expect(made.map((n) => n.name)).toEqual(['web-big-0', 'web-worker-1']);
    expect(made[1].replacesNodeId).toBe('old-1');
    expect(s.events[0].map((e) => e.reason)).toEqual(['NodeCreated', 'NodeNotCreated', 'NodeCreated']);
    expect(s.events[0][1]).toMatchObject({
      type: 'warning',
      target: { tenantId: 't1', clusterId: 'c1' },
      message: 'cannot create a worker: no host has 8 vCPUs, 8192 MiB and 20 GiB of disk free',
    });
    expect(s.events[0][2].message).toMatch(/ \(replaces old-1\)$/);
    expect(s.queued).toHaveLength(2);
  });

  it('goes on without the nodes whose address the VPC cannot give', async () => {
    const s = setup({ hosts: [host('a', 64)], addresses: 1 });
    const made = await s.factory.createMany(cluster, [{ pool: 'default' }, { pool: 'default' }]);
    expect(made).toHaveLength(1);
    expect(s.events[0].map((e) => e.reason)).toEqual(['NodeCreated', 'NodeNotCreated']);
    expect(s.events[0][1].message).toBe('cannot create a worker: VPC "net" (10.0.0.0/24) has no free address');
  });

  it('does nothing when nothing is asked', async () => {
    const s = setup({ hosts: [host('a', 64)] });
    expect(await s.factory.createMany(cluster, [])).toEqual([]);
    expect(s.transactions()).toBe(0);
  });
});
