import { Module } from '@nestjs/common';
import { HypervisorModule } from '../hypervisor/hypervisor.module.js';
import { NetworksModule } from '../networks/networks.module.js';
import { ControlPlaneLeaver } from '../nodes/control-plane-leaver.service.js';
import { HostSweepHandler } from '../nodes/host-sweep.handler.js';
import { NodeReconciler } from '../nodes/node.reconciler.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import { DhcpAudit } from '../nodes/dhcp-audit.js';
import { StoragePoolsModule } from '../storage-pools/storage-pools.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { AutoscalerHandler } from './autoscaler.handler.js';
import { BundlesService } from './bundles.service.js';
import { ClusterReconciler } from './cluster.reconciler.js';
import { ClustersController } from './clusters.controller.js';
import { ClustersRepository } from './clusters.repository.js';
import { ClustersService } from './clusters.service.js';
import { ControlPlanesController } from './control-planes.controller.js';
import { EventsService } from './events.service.js';
import { UsageMetrics } from './usage-metrics.js';

/** Clusters and their nodes: the API side and the reconcilers the workers run. */
@Module({
  imports: [TenantsModule, StoragePoolsModule, NetworksModule, HypervisorModule],
  controllers: [ClustersController, ControlPlanesController],
  providers: [
    ClustersRepository,
    NodesRepository,
    BundlesService,
    EventsService,
    ClustersService,
    ClusterReconciler,
    AutoscalerHandler,
    UsageMetrics,
    NodeReconciler,
    ControlPlaneLeaver,
    HostSweepHandler,
    DhcpAudit,
  ],
  exports: [ClustersService, ClustersRepository, NodesRepository, BundlesService],
})
export class ClustersModule {}
