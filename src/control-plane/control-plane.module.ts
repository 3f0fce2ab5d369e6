import { Module } from '@nestjs/common';
import { NetworksModule } from '../networks/networks.module.js';
import { EventsModule } from '../events/events.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { BundlesService } from './bundles.service.js';
import { ClusterSecretsStore } from './cluster-secrets.store.js';
import { ControlPlaneLeaver } from './control-plane-leaver.service.js';
import { ControlPlanesController } from './control-planes.controller.js';

/**
 * What runs inside a cluster's guests and how the platform speaks to it: the bundles, the
 * cluster PKI and its sealed secrets, each node's boot configuration, and a node's leave.
 */
@Module({
  imports: [EventsModule, NetworksModule, NodesModule],
  controllers: [ControlPlanesController],
  providers: [BundlesService, ClusterSecretsStore, ControlPlaneLeaver],
  exports: [BundlesService, ClusterSecretsStore, ControlPlaneLeaver],
})
export class ControlPlaneModule {}
