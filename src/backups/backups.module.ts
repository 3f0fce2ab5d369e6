import { Module } from '@nestjs/common';
import { ClustersModule } from '../clusters/clusters.module.js';
import { ControlPlaneModule } from '../control-plane/control-plane.module.js';
import { EventsModule } from '../events/events.module.js';
import { HypervisorModule } from '../hypervisor/hypervisor.module.js';
import { NetworksModule } from '../networks/networks.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { StoragePoolsModule } from '../storage-pools/storage-pools.module.js';
import { BackupJobs } from './backup-jobs.handler.js';
import { BackupsController, ClusterBackupsController } from './backups.controller.js';
import { BackupsService } from './backups.service.js';

/** Backups of clusters' control planes: the API, the taking, the schedule. */
@Module({
  imports: [
    ClustersModule,
    ControlPlaneModule,
    EventsModule,
    HypervisorModule,
    NetworksModule,
    NodesModule,
    StoragePoolsModule,
  ],
  controllers: [ClusterBackupsController, BackupsController],
  providers: [BackupsService, BackupJobs],
  exports: [BackupsService],
})
export class BackupsModule {}
