import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_LOGGER } from '../../common/tokens.js';
import { BundlesService } from '../../control-plane/bundles.service.js';
import type { HostBackend } from '../../hypervisor/backends/index.js';
import { libvirtNames, ownerOf } from '../../hypervisor/xml/names.js';
import { FloatingIpsRepository } from '../../networks/floating-ips.repository.js';
import { VpcsRepository } from '../../networks/vpcs.repository.js';
import { StoragePoolsRepository } from '../../storage-pools/storage-pools.repository.js';

/** Networks and pools of VPCs, pools and ranges that no longer exist, once nothing uses them. */
@Injectable()
export class UnusedObjectsCollector {
  constructor(
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly vpcs: VpcsRepository,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly pools: StoragePoolsRepository,
    private readonly bundles: BundlesService,
  ) {}

  async run(hostId: string, backend: HostBackend): Promise<void> {
    const ids = (names: string[], of: (name: string) => string | undefined) => names.flatMap((n) => of(n) ?? []);
    // One query per kind for every network and pool of the host, not one each.
    const networks = await backend.listNetworks();
    const pools = await backend.listPools();
    const [vpcs, ranges, storagePools] = await Promise.all([
      this.vpcs.existingIds(ids(networks, ownerOf.vpcNetwork)),
      this.floatingIps.existingRangeIds(ids(networks, ownerOf.providerNetwork)),
      this.pools.existingIds(ids(pools, ownerOf.storagePool)),
    ]);
    for (const name of networks) {
      const vpcId = ownerOf.vpcNetwork(name);
      const rangeId = ownerOf.providerNetwork(name);
      const gone = vpcId ? !vpcs.has(vpcId) : rangeId ? !ranges.has(rangeId) : false;
      if (gone) {
        await backend.removeNetwork(name);
        this.logger.info({ hostId, network: name }, 'removed the network of a deleted VPC or range');
      }
    }
    if (pools.includes(libvirtNames.platformPool())) await this.collectStaleBundleVolumes(hostId, backend);
    for (const name of pools) {
      const poolId = ownerOf.storagePool(name);
      if (poolId && !storagePools.has(poolId) && (await backend.listVolumes(name)).length === 0) {
        await backend.removePool(name);
        this.logger.info({ hostId, pool: name }, 'removed the pool of a deleted storage pool');
      }
    }
  }

  /** Bundle volumes of replaced artifacts, once no VM has them attached. */
  private async collectStaleBundleVolumes(hostId: string, backend: HostBackend): Promise<void> {
    const current = new Set(
      this.bundles
        .list()
        .flatMap((b) =>
          Object.keys(b.manifest.versions).map((v) => libvirtNames.bundleVolume(b.manifest.name, v, b.digest)),
        ),
    );
    const stale = (await backend.listVolumes(libvirtNames.platformPool())).filter(
      (v) => ownerOf.isBundleVolume(v) && !current.has(v),
    );
    if (stale.length === 0) return;
    const inUse = await backend.volumesInUse();
    for (const v of stale.filter((x) => !inUse.has(x))) {
      await backend.removeVolume(libvirtNames.platformPool(), v);
      this.logger.info({ hostId, volume: v }, 'removed a bundle volume that no longer matches its bundle');
    }
  }
}
