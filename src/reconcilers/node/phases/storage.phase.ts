import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { APP_CONFIG } from '../../../common/tokens.js';
import type { AppConfig } from '../../../config/config.js';
import { BundlesService } from '../../../control-plane/bundles.service.js';
import { HostsRepository } from '../../../hypervisor/hosts.repository.js';
import { libvirtNames } from '../../../hypervisor/xml/names.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

const GIB = 2 ** 30;

/** The tenant's storage pool on the host and the node's disk, a copy-on-write overlay of the image. */
@Injectable()
export class StoragePhase implements NodePhaseStep {
  readonly name = 'storage';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly hosts: HostsRepository,
    private readonly bundles: BundlesService,
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const cluster = scope.liveCluster;
    const pool = libvirtNames.storagePool(cluster.storagePoolId);
    await scope.backend.ensurePool({
      type: 'dir',
      name: pool,
      path: join(this.config.hostDataDir, 'pools', cluster.storagePoolId),
    });
    // The node's own version may name its image (during an upgrade old and new nodes differ).
    const named = this.bundles.imageOf(cluster.controlPlane, scope.node.version);
    const image = named
      ? await this.hosts.findImageByName(named)
      : cluster.imageId
        ? await this.hosts.findImage(cluster.imageId)
        : null;
    if (named && !image)
      throw new Error(
        `${cluster.controlPlane} ${scope.node.version} boots guest image "${named}", which is not registered`,
      );
    scope.image = image;
    const base =
      image?.kind === 'qcow2' && image.diskPath ? { path: image.diskPath, format: 'qcow2' as const } : undefined;
    await scope.backend.ensureVolume(pool, {
      name: scope.names.disk,
      capacityBytes: scope.node.diskGiB * GIB,
      format: 'qcow2',
      backing: base,
    });
    return CONTINUE;
  }
}
