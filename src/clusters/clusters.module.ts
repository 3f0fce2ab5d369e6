import { Module } from '@nestjs/common';
import { ControlPlaneModule } from '../control-plane/control-plane.module.js';
import { EventsModule } from '../events/events.module.js';
import { HypervisorModule } from '../hypervisor/hypervisor.module.js';
import { NetworksModule } from '../networks/networks.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { StoragePoolsModule } from '../storage-pools/storage-pools.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { BackupsRepository } from '../backups/backups.repository.js';
import { ClusterCapacity } from './cluster-capacity.js';
import { ClusterDetailsService } from './cluster-details.service.js';
import { ClusterScaling } from './cluster-scaling.service.js';
import { ClusterUsageSources } from './cluster-usage-sources.js';
import { ClustersController } from './clusters.controller.js';
import { EventsStreamController } from './events-stream.controller.js';
import { ClustersRepository } from './clusters.repository.js';
import { ClustersService } from './clusters.service.js';
import { FloatingIpAssociationController } from './floating-ip-association.controller.js';
import { FloatingIpAssociationService } from './floating-ip-association.service.js';
import { UsageMetrics } from './usage-metrics.js';
import { WorkerPoolsController } from './worker-pools.controller.js';
import { WorkerPoolsService } from './worker-pools.service.js';

/** Clusters as tenants declare them: the API, the records, quota and capacity checks. No VM work. */
@Module({
  imports: [
    TenantsModule,
    StoragePoolsModule,
    NetworksModule,
    HypervisorModule,
    EventsModule,
    NodesModule,
    ControlPlaneModule,
  ],
  controllers: [ClustersController, WorkerPoolsController, EventsStreamController, FloatingIpAssociationController],
  providers: [
    ClustersRepository,
    ClusterCapacity,
    ClustersService,
    ClusterDetailsService,
    FloatingIpAssociationService,
    ClusterScaling,
    WorkerPoolsService,
    ClusterUsageSources,
    UsageMetrics,
    BackupsRepository,
  ],
  exports: [ClustersRepository, ClustersService, ClusterScaling, ClusterCapacity, BackupsRepository],
})
export class ClustersModule {}
