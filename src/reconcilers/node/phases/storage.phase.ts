import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { APP_CONFIG } from '../../../common/tokens.js';
import type { AppConfig } from '../../../config/config.js';
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
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const cluster = scope.liveCluster;
    const pool = libvirtNames.storagePool(cluster.storagePoolId);
    await scope.backend.ensurePool({
      type: 'dir',
      name: pool,
      path: join(this.config.hostDataDir, 'pools', cluster.storagePoolId),
    });
    const image = cluster.imageId ? await this.hosts.findImage(cluster.imageId) : null;
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
