import { Module } from '@nestjs/common';
import { HypervisorModule } from '../hypervisor/hypervisor.module.js';
import { NetworksModule } from '../networks/networks.module.js';
import { HostSweepHandler } from '../nodes/host-sweep.handler.js';
import { NodeReconciler } from '../nodes/node.reconciler.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { StoragePoolsModule } from '../storage-pools/storage-pools.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { BundlesService } from './bundles.service.js';
import { ClusterReconciler } from './cluster.reconciler.js';
import { ClustersController } from './clusters.controller.js';
import { ClustersRepository } from './clusters.repository.js';
import { ClustersService } from './clusters.service.js';
import { EventsService } from './events.service.js';

/** Clusters and their nodes: the API side and the reconcilers the workers run. */
@Module({
  imports: [TenantsModule, StoragePoolsModule, NetworksModule, HypervisorModule],
  controllers: [ClustersController],
  providers: [
    ClustersRepository,
    NodesRepository,
    BundlesService,
    EventsService,
    ClustersService,
    ClusterReconciler,
    NodeReconciler,
    HostSweepHandler,
  ],
  exports: [ClustersService, ClustersRepository, NodesRepository, BundlesService],
})
export class ClustersModule {}
