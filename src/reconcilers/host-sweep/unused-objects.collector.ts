import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_LOGGER } from '../../common/tokens.js';
import { BundlesService } from '../../control-plane/bundles.service.js';
import type { HostBackend } from '../../hypervisor/backends/index.js';
import { libvirtNames, ownerOf } from '../../hypervisor/xml/names.js';
import { StoragePoolsRepository } from '../../storage-pools/storage-pools.repository.js';
import { backupOfVolume, BackupsRepository } from '../../backups/backups.repository.js';

/** How often a host's pools are searched for the volumes of deleted backups (a libvirt call per pool). */
const BACKUP_COLLECTION_MS = 10 * 60 * 1000;

/**
 * The libvirt pools of deleted storage pools, once they hold no volume, the bundle volumes of
 * replaced artifacts, once no VM has them attached, and (every 10 minutes) the volumes of
 * backups that are no longer recorded, whose own removal job was lost.
 */
@Injectable()
export class UnusedObjectsCollector {
  constructor(
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly pools: StoragePoolsRepository,
    private readonly bundles: BundlesService,
    private readonly backups: BackupsRepository,
  ) {}

  private readonly backupsCollectedAt = new Map<string, number>();

  async run(hostId: string, backend: HostBackend): Promise<void> {
    const pools = await backend.listPools();
    // One query for every pool of the host, not one each.
    const storagePools = await this.pools.existingIds(pools.flatMap((n) => ownerOf.storagePool(n) ?? []));
    if (pools.includes(libvirtNames.platformPool())) await this.collectStaleBundleVolumes(hostId, backend);
    if (Date.now() - (this.backupsCollectedAt.get(hostId) ?? 0) >= BACKUP_COLLECTION_MS) {
      await this.collectDeletedBackups(hostId, backend, pools);
      this.backupsCollectedAt.set(hostId, Date.now());
    }
    for (const name of pools) {
      const poolId = ownerOf.storagePool(name);
      if (poolId && !storagePools.has(poolId) && (await backend.listVolumes(name)).length === 0) {
        await backend.removePool(name);
        this.logger.info({ hostId, pool: name }, 'removed the pool of a deleted storage pool');
      }
    }
  }

  private async collectDeletedBackups(hostId: string, backend: HostBackend, pools: string[]): Promise<void> {
    for (const pool of pools.filter((n) => ownerOf.storagePool(n))) {
      const volumes = (await backend.listVolumes(pool)).flatMap((v) => {
        const id = backupOfVolume(v);
        return id ? [{ id, name: v }] : [];
      });
      if (volumes.length === 0) continue;
      const recorded = await this.backups.existingIds(volumes.map((v) => v.id));
      for (const v of volumes.filter((x) => !recorded.has(x.id))) {
        await backend.removeVolume(pool, v.name);
        this.logger.info({ hostId, pool, volume: v.name }, 'removed the volume of a deleted backup');
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
