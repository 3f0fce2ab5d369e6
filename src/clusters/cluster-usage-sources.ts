import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HostsService } from '../hypervisor/hosts.service.js';
import { VpcsService } from '../networks/vpcs.service.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { StoragePoolsService } from '../storage-pools/storage-pools.service.js';
import { QuotaService } from '../tenants/quota.service.js';
import { ClustersRepository } from './clusters.repository.js';

/**
 * What clusters hold, told to the modules below that must not import this one: quota usage,
 * host allocations, and whether a VPC or a storage pool is in use.
 */
@Injectable()
export class ClusterUsageSources implements OnModuleInit {
  constructor(
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly quotas: QuotaService,
    private readonly hosts: HostsService,
    private readonly vpcs: VpcsService,
    private readonly pools: StoragePoolsService,
  ) {}

  onModuleInit(): void {
    this.quotas.registerUsageSource(async (tx, tenantId) => {
      const u = await this.clusters.declaredUsage(tenantId, tx);
      return { maxClusters: u.clusters, maxNodes: u.nodes, maxVcpus: u.vcpus, maxMemoryMiB: u.memoryMiB };
    });
    this.hosts.setAllocationSource({ allocations: (tx) => this.nodes.hostAllocations(tx) });
    this.vpcs.registerInUseCheck((tx, vpcId) => this.clusters.usesVpc(tx, vpcId));
    this.pools.registerInUseCheck((tx, poolId) => this.clusters.usesPool(tx, poolId));
  }
}
