import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module.js';
import { createLogger } from '../../src/common/logger.js';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import { JobRunner } from '../../src/jobs/job-runner.service.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { createTenant, LogSink, startTestApp, type Client, type TestApp } from './test-app.js';
import { waitFor } from './processes.js';

/** Fast simulated guests and short requeues, for tests. */
export const FAST_SIMULATION = {
  KAAS_SIM_BOOT_MS: '150',
  KAAS_SIM_INSTALL_MS: '150',
  KAAS_REQUEUE_MS: '100',
  KAAS_HEALTH_INTERVAL_SECONDS: '1',
  KAAS_ORPHAN_GRACE_SECONDS: '1',
  KAAS_IP_QUARANTINE_SECONDS: '0',
  KAAS_JOB_BACKOFF_MS: '200',
};

export interface Platform extends TestApp {
  worker: INestApplicationContext;
  workerLogs: LogSink;
  host: LibvirtTestHost;
  hostId: string;
  stopWorker(): Promise<void>;
}

/** API plus one in-process worker, one simulated host registered. */
export async function startPlatform(overrides: Record<string, string> = {}): Promise<Platform> {
  const t = await startTestApp({ ...FAST_SIMULATION, ...overrides });
  const workerLogs = new LogSink();
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(t.config, createLogger('info', 'worker', workerLogs), 'worker')],
  }).compile();
  const worker = await moduleRef.init();
  await worker.get(JobRunner).start({ schedules: false });
  const host = await createLibvirtTestHost({ cpus: 64, memoryKiB: 256 * 1024 * 1024 });
  const res = await t.admin.call('POST', '/v1/hosts', { name: 'sim-1', uri: host.uri, domainType: 'qemu' });
  if (res.status !== 201) throw new Error(`host registration: ${res.status} ${JSON.stringify(res.body)}`);
  await worker.get(HostLeases).start();
  await waitFor(
    'the host to be Ready',
    async () => (await t.admin.call('GET', `/v1/hosts/${res.body.id}`)).body.state === 'Ready',
  );
  let stopped = false;
  const stopWorker = async () => {
    if (stopped) return;
    stopped = true;
    await worker.close();
  };
  return {
    ...t,
    worker,
    workerLogs,
    host,
    hostId: res.body.id,
    stopWorker,
    async close() {
      await stopWorker();
      await t.close();
      await host.cleanup();
    },
  };
}

export interface TenantSetup {
  tenantId: string;
  client: Client;
  vpcId: string;
  poolId: string;
  floatingIpId: string;
}

let rangeOctet = 0;

/**
 * A tenant with a VPC, a pool and a floating IP, ready to create a cluster. Each call's VPC has
 * its own CIDR unless one is given: VPCs with overlapping CIDRs never share a host.
 */
export async function tenantWithInfra(t: TestApp, name: string, vpcCidr?: string): Promise<TenantSetup> {
  const tenant = await createTenant(t, name);
  const octet = 100 + (rangeOctet++ % 100);
  const range = await t.admin.call('POST', '/v1/floating-ip-ranges', { cidr: `10.${octet}.${process.pid % 250}.0/28` });
  if (range.status !== 201 && range.status !== 409) throw new Error(`range: ${JSON.stringify(range.body)}`);
  const vpc = await tenant.client.call('POST', '/v1/vpcs', { name: 'net', cidr: vpcCidr ?? `10.20.${octet}.0/24` });
  const pool = await tenant.client.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 1000 });
  const fip = await tenant.client.call('POST', '/v1/floating-ips', {});
  if (fip.status !== 201) throw new Error(`floating IP: ${JSON.stringify(fip.body)}`);
  return {
    tenantId: tenant.id,
    client: tenant.client,
    vpcId: vpc.body.id,
    poolId: pool.body.id,
    floatingIpId: fip.body.id,
  };
}

export function clusterBody(s: TenantSetup, over: Record<string, unknown> = {}) {
  return {
    name: 'web',
    controlPlane: 'etcd',
    masters: 1,
    workers: 2,
    nodeSpec: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 },
    vpcId: s.vpcId,
    storagePoolId: s.poolId,
    floatingIpId: s.floatingIpId,
    ...over,
  };
}

export async function waitForPhase(
  client: Client,
  clusterId: string,
  phase: string,
  timeoutMs = 30000,
  check?: (c: Record<string, unknown>) => boolean,
) {
  return waitFor(
    `cluster ${clusterId} to be ${phase}`,
    async () => {
      const res = await client.call('GET', `/v1/clusters/${clusterId}`);
      return res.body.phase === phase && (!check || check(res.body)) ? res.body : undefined;
    },
    timeoutMs,
    100,
  );
}
