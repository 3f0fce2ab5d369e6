import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_LOGGER } from '../../common/tokens.js';
import { BundlesService } from '../../control-plane/bundles.service.js';
import type { HostBackend } from '../../hypervisor/backends/index.js';
import { libvirtNames, ownerOf } from '../../hypervisor/xml/names.js';
import { StoragePoolsRepository } from '../../storage-pools/storage-pools.repository.js';

/**
 * The libvirt pools of deleted storage pools, once they hold no volume, and the bundle volumes of
 * replaced artifacts, once no VM has them attached.
 */
@Injectable()
export class UnusedObjectsCollector {
  constructor(
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly pools: StoragePoolsRepository,
    private readonly bundles: BundlesService,
  ) {}

  async run(hostId: string, backend: HostBackend): Promise<void> {
    const pools = await backend.listPools();
    // One query for every pool of the host, not one each.
    const storagePools = await this.pools.existingIds(pools.flatMap((n) => ownerOf.storagePool(n) ?? []));
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
