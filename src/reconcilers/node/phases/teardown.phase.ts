import { Injectable } from '@nestjs/common';
import { Database } from '../../../common/database.js';
import { libvirtNames } from '../../../hypervisor/xml/names.js';
import { VpcsService } from '../../../networks/vpcs.service.js';
import { NodesRepository } from '../../../nodes/nodes.repository.js';
import { TenantNetwork } from '../../network/tenant-network.service.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

/** Removes the VM, its volumes, its network port and its address, then the node row. Idempotent. */
@Injectable()
export class TeardownPhase implements NodePhaseStep {
  readonly name = 'teardown';

  constructor(
    private readonly db: Database,
    private readonly nodes: NodesRepository,
    private readonly vpcs: VpcsService,
    private readonly network: TenantNetwork,
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const { node, cluster, backend, names } = scope;
    scope.runtime.expectStop(names.domain);
    await backend.stopDomain(names.domain);
    await backend.removeDomain(names.domain);
    if (cluster) {
      const pool = libvirtNames.storagePool(cluster.storagePoolId);
      await backend.removeVolume(pool, names.seed);
      await backend.removeVolume(pool, names.disk);
    }
    // After the VM: a port removed first would leave a running guest cut off, not gone.
    await this.network.removePort(node.id);
    await this.db.transaction(async (tx) => {
      await this.vpcs.releaseAddresses(tx, node.id);
      await tx.query(`DELETE FROM volumes WHERE owner_id = $1`, [node.id]);
      await this.nodes.remove(tx, node.id);
    });
    scope.removed = true;
    if (cluster) {
      scope.event('normal', 'NodeDeleted', `${node.name} removed`);
      scope.nudgeCluster = true;
    }
    return CONTINUE;
  }
}
