import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { HostLeases } from '../src/hypervisor/host-leases.service.js';
import { libvirtNames } from '../src/hypervisor/xml/names.js';
import { startPlatform, type Platform } from '../test/support/platform.js';
import { ROOT, waitFor } from '../test/support/processes.js';
import { createTenant, type Client } from '../test/support/test-app.js';
import { useRealHosts, vmEnv } from '../test/vm/vm-support.js';

jest.setTimeout(3600000);

const RUNS = Number(process.env.KAAS_BENCH_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Real guests under software emulation (`make bench-vms`, inside the real-VM namespace): POST to
 * Running of an etcd-bundle cluster of 1 master + 1 worker, and a destroyed worker VM back to
 * Running, each RUNS times (default 3) on fresh clusters; medians to bench/results/real-vm.json.
 */
describe('real-VM benchmark', () => {
  const { imageDir, dataDir } = vmEnv();
  let p: Platform;
  let tenant: Client;
  let vpcId: string;
  let poolId: string;
  const postToRunning: number[] = [];
  const recovery: number[] = [];

  beforeAll(async () => {
    mkdirSync(join(dataDir, 'host'), { recursive: true });
    p = await startPlatform({
      KAAS_HOST_DATA_DIR: join(dataDir, 'host'),
      KAAS_SIM_BOOT_MS: '0',
      KAAS_JOB_LOCK_MS: '120000',
      KAAS_IP_QUARANTINE_SECONDS: '300',
      // Production defaults otherwise (health every 10 s, requeue 1 s, resync 15 s).
      KAAS_REQUEUE_MS: '1000',
      KAAS_HEALTH_INTERVAL_SECONDS: '10',
      KAAS_RESYNC_SECONDS: '15',
    });
    await useRealHosts(p, [{ name: 'real-1', uri: 'qemu:///system' }], imageDir);
    await p.admin.call('POST', '/v1/floating-ip-ranges', { cidr: '10.251.11.0/28' });
    tenant = (await createTenant(p, 'bench')).client;
    vpcId = (await tenant.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.63.0.0/24' })).body.id;
    poolId = (await tenant.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 100 })).body.id;
  });

  afterAll(async () => {
    const result = {
      benchmark: 'real-vm',
      date: new Date().toISOString(),
      load: loadavg().map((x) => Math.round(x * 100) / 100),
      runs: RUNS,
      cluster: 'etcd bundle, 1 master + 1 worker, 1 vCPU / 512 MiB each, software emulation (TCG)',
      postToRunningSeconds: postToRunning,
      postToRunningMedianSeconds: postToRunning.length ? median(postToRunning) : null,
      destroyedWorkerToRunningSeconds: recovery,
      destroyedWorkerToRunningMedianSeconds: recovery.length ? median(recovery) : null,
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'real-vm.json'), `${JSON.stringify(result, null, 2)}\n`);
    await p?.close();
  });

  it(`creates, breaks and deletes a 1 + 1 etcd cluster ${RUNS} times`, async () => {
    for (let run = 0; run < RUNS; run++) {
      // A fresh floating IP each run (kept): a just-released one may still be leased to the
      // previous holder's NIC for up to the 2-minute DHCP lease.
      const fip = (await tenant.call('POST', '/v1/floating-ips', {})).body;
      const t0 = Date.now();
      const res = await tenant.call('POST', '/v1/clusters', {
        name: `bench-${run}`,
        controlPlane: 'etcd',
        masters: 1,
        workers: 1,
        nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
        vpcId,
        storagePoolId: poolId,
        floatingIpId: fip.id,
        settings: { unhealthyTimeoutSeconds: 20 },
      });
      expect(res.status).toBe(202);
      const id = res.body.id as string;
      const running = async (what: string) =>
        waitFor(
          what,
          async () => {
            const c = (await tenant.call('GET', `/v1/clusters/${id}`)).body;
            return c.phase === 'Running' && c.nodeCounts.ready === 2;
          },
          900000,
          500,
        );
      await running(`run ${run}: Running`);
      postToRunning.push((Date.now() - t0) / 1000);

      const worker = (
        (await tenant.call('GET', `/v1/clusters/${id}/nodes`)).body.items as { id: string; role: string }[]
      ).find((n) => n.role === 'worker')!;
      const runtime = p.worker
        .get(HostLeases)
        .ownedHostIds()
        .map((h) => p.worker.get(HostLeases).runtime(h))
        .find((r) => r && !r.host.simulated)!;
      const t1 = Date.now();
      await runtime.backend!.destroyDomain(libvirtNames.domain(worker.id));
      await waitFor(
        `run ${run}: the destroyed worker to be replaced`,
        async () =>
          !((await tenant.call('GET', `/v1/clusters/${id}/nodes`)).body.items as { id: string }[]).some(
            (n) => n.id === worker.id,
          ),
        900000,
        500,
      );
      await running(`run ${run}: Running again`);
      recovery.push((Date.now() - t1) / 1000);

      await tenant.call('DELETE', `/v1/clusters/${id}`);
      await waitFor(
        `run ${run}: deleted`,
        async () => (await tenant.call('GET', `/v1/clusters/${id}`)).status === 404,
        600000,
        1000,
      );
      console.log(
        `run ${run}: POST → Running ${postToRunning.at(-1)} s, destroyed worker → Running ${recovery.at(-1)} s`,
      );
    }
  });
});
