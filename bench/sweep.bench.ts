/**
 * One full health sweep over 1,000 clusters with 5,000 nodes on 5 simulated hosts: every node's
 * VM state read through libvirt, its guest probed, its row updated. The rows and VMs are put in
 * place directly (creating 5,000 nodes through the reconcilers is benchmark 1's job).
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { HostLeases } from '../src/hypervisor/host-leases.service.js';
import { BullJobQueue } from '../src/jobs/bull-job-queue.js';
import { createLibvirtTestHost } from '../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { libvirtNames } from '../src/hypervisor/xml/names.js';
import { waitFor } from '../test/support/processes.js';
import { startPlatform, tenantWithInfra } from '../test/support/platform.js';
import { median, report } from './bench-support.js';
import type { LibvirtHostBackend } from '../src/hypervisor/backends/index.js';

const CLUSTERS = Number(process.env.KAAS_BENCH_CLUSTERS ?? 1000);
const NODES_PER_CLUSTER = 5;
const HOSTS = 5;

const p = await startPlatform({
  KAAS_SIM_BOOT_MS: '0',
  KAAS_SIM_INSTALL_MS: '0',
  KAAS_HEALTH_INTERVAL_SECONDS: '3600',
  KAAS_LOG_LEVEL: 'warn',
  KAAS_RESYNC_SECONDS: '3600',
});
try {
  const ds = p.app.get(DataSource);
  const s = await tenantWithInfra(p, 'sweep');
  const hostIds = [p.hostId];
  for (let i = 1; i < HOSTS; i++) {
    const h = await createLibvirtTestHost({ cpus: 512, memoryKiB: 4 * 1024 * 1024 * 1024 });
    const res = await p.admin.call('POST', '/v1/hosts', { name: `sim-${i + 1}`, uri: h.uri, domainType: 'qemu' });
    hostIds.push(res.body.id);
  }
  const leases = p.worker.get(HostLeases);
  await waitFor(
    'all hosts held',
    async () => {
      await leases.tick();
      return hostIds.every((h) => leases.runtime(h)?.backend);
    },
    30000,
  );
  await ds.query(
    `UPDATE tenants SET max_clusters = 100000, max_nodes = 1000000, max_vcpus = 1000000, max_memory_mib = 2000000000`,
  );
  await ds.query(`UPDATE hosts SET cpus = 100000, memory_mib = 2000000000`);
  await ds.query(`UPDATE vpcs SET cidr = '10.64.0.0/16', gateway = '10.64.0.1' WHERE id = $1`, [s.vpcId]);
  const setupStart = Date.now();
  let n = 0;
  for (let c = 0; c < CLUSTERS; c++) {
    const clusterId = randomUUID();
    const [{ id: fipId }] = await ds.query(
      `INSERT INTO floating_ips (tenant_id, range_id, address, cluster_id) SELECT $1, range_id, ('10.200.' || ($2::int / 250) || '.' || ($2::int % 250 + 2))::inet, $3 FROM floating_ips WHERE id = $4 RETURNING id`,
      [s.tenantId, c, clusterId, s.floatingIpId],
    );
    await ds.query(
      `INSERT INTO clusters (id, tenant_id, name, control_plane, version, masters, workers, vcpus, memory_mib, disk_gib, vpc_id, storage_pool_id, floating_ip_id, phase,
                             worker_pools, worker_vcpus, worker_memory_mib, worker_disk_gib)
       VALUES ($1, $2, $3, 'etcd', 'v3.4.23', 1, 4, 1, 512, 1, $4, $5, $6, 'Running',
               '[{"name":"default","count":4,"nodeSpec":{"vcpus":1,"memoryMiB":512,"diskGiB":1},"labels":{},"taints":[]}]', 4, 2048, 4)`,
      [clusterId, s.tenantId, `c${c}`, s.vpcId, s.poolId, fipId],
    );
    const values: unknown[] = [];
    const rows: string[] = [];
    for (let i = 0; i < NODES_PER_CLUSTER; i++, n++) {
      const nodeId = randomUUID();
      const hostId = hostIds[n % HOSTS];
      const mac = `52:54:${(n >> 16).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}:01`;
      values.push(
        nodeId,
        clusterId,
        s.tenantId,
        `c${c}-n${i}`,
        i,
        i === 0 ? 'master' : 'worker',
        hostId,
        `10.64.${(n + 2) >> 8}.${(n + 2) & 255}`,
        mac,
      );
      const b = values.length - 9;
      rows.push(
        `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, ${i === 0 ? 'NULL' : "'default'"}, 'v3.4.23', $${b + 7}, 1, 512, 1, $${b + 8}::inet, $${b + 9}::macaddr, 'Ready', now(), now(), now())`,
      );
      const driver = leases.runtime(hostId)!.backend as LibvirtHostBackend;
      const name = libvirtNames.domain(nodeId);
      await driver.conn.defineDomain(
        `<domain type='qemu'><name>${name}</name><memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><metadata><kaas:owner xmlns:kaas='urn:kaas:metadata:1' tenant='${s.tenantId}' cluster='${clusterId}' node='${nodeId}' role='worker'/></metadata></domain>`,
      );
      await driver.conn.startDomain(name);
    }
    await ds.query(
      `INSERT INTO nodes (id, cluster_id, tenant_id, name, ordinal, role, pool, version, host_id, vcpus, memory_mib, disk_gib, address, mac, phase, boot_started_at, ready_at, last_heartbeat_at) VALUES ${rows.join(', ')}`,
      values,
    );
  }
  const setupSeconds = (Date.now() - setupStart) / 1000;
  const queue = p.worker.get(BullJobQueue);
  const walls: number[] = [];
  for (let run = 0; run < 3; run++) {
    const t0 = Date.now();
    const reports = (await Promise.all(
      hostIds.map((h) => queue.runAndWait('host.sweep', { hostId: h }, h, 300000)),
    )) as { nodes: number; unhealthy: number }[];
    walls.push((Date.now() - t0) / 1000);
    const swept = reports.reduce((a, r) => a + r.nodes, 0);
    if (swept !== CLUSTERS * NODES_PER_CLUSTER) throw new Error(`swept ${swept} nodes`);
    if (reports.some((r) => r.unhealthy > 0))
      throw new Error(`unhealthy nodes in a healthy fleet: ${JSON.stringify(reports)}`);
  }
  report('health-sweep', {
    clusters: CLUSTERS,
    nodes: CLUSTERS * NODES_PER_CLUSTER,
    hosts: HOSTS,
    sweepSeconds: walls,
    medianSeconds: median(walls),
    setupSeconds,
  });
} finally {
  await p.close();
}
