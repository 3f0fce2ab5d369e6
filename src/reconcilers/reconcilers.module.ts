import { Module } from '@nestjs/common';
import { ClustersModule } from '../clusters/clusters.module.js';
import { ControlPlaneModule } from '../control-plane/control-plane.module.js';
import { EventsModule } from '../events/events.module.js';
import { HypervisorModule } from '../hypervisor/hypervisor.module.js';
import { NetworksModule } from '../networks/networks.module.js';
import { NodesModule } from '../nodes/nodes.module.js';
import { StoragePoolsModule } from '../storage-pools/storage-pools.module.js';
import { AutoscalerHandler } from './autoscaler.handler.js';
import { ClusterReconciler } from './cluster/cluster.reconciler.js';
import { EndpointStep } from './cluster/endpoint.step.js';
import { NodeFactory } from './cluster/node-factory.js';
import { RemediationStep } from './cluster/remediation.step.js';
import { FleetMetrics } from './fleet-metrics.js';
import { PassContextRepository } from './pass-context.repository.js';
import { DrainStep } from './host-sweep/drain.step.js';
import { FencingStep } from './host-sweep/fencing.step.js';
import { HostSweepHandler } from './host-sweep/host-sweep.handler.js';
import { NodeHealthStep } from './host-sweep/node-health.step.js';
import { OrphanVmsCollector } from './host-sweep/orphan-vms.collector.js';
import { UnreachableHostStep } from './host-sweep/unreachable-host.step.js';
import { UnusedObjectsCollector } from './host-sweep/unused-objects.collector.js';
import { NetworkCollector } from './network/network-collector.handler.js';
import { TenantNetwork } from './network/tenant-network.service.js';
import { NodeReconciler } from './node/node.reconciler.js';
import { DomainPhase } from './node/phases/domain.phase.js';
import { LeavePhase } from './node/phases/leave.phase.js';
import { NetworkPhase } from './node/phases/network.phase.js';
import { ProbePhase } from './node/phases/probe.phase.js';
import { SeedPhase } from './node/phases/seed.phase.js';
import { StoragePhase } from './node/phases/storage.phase.js';
import { TeardownPhase } from './node/phases/teardown.phase.js';

/**
 * What the workers run to make the declared state real: the cluster reconciler, the node
 * reconciler and its phases, the host sweep and its steps, and the worker autoscaler; and the
 * figures of what they look after (FleetMetrics), which the API's /metrics serves.
 */
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
  providers: [
    ClusterReconciler,
    RemediationStep,
    EndpointStep,
    TenantNetwork,
    NetworkCollector,
    NodeFactory,
    NodeReconciler,
    PassContextRepository,
    NetworkPhase,
    StoragePhase,
    SeedPhase,
    DomainPhase,
    ProbePhase,
    LeavePhase,
    TeardownPhase,
    HostSweepHandler,
    NodeHealthStep,
    UnreachableHostStep,
    FencingStep,
    OrphanVmsCollector,
    DrainStep,
    UnusedObjectsCollector,
    AutoscalerHandler,
    FleetMetrics,
  ],
})
export class ReconcilersModule {}
