import type { ClusterEntity } from '../../clusters/cluster.entity.js';
import type { HostBackend, VmState } from '../../hypervisor/backends/index.js';
import type { ImageEntity } from '../../hypervisor/host.entity.js';
import type { HostRuntime } from '../../hypervisor/host-runtime.js';
import type { DomainSpec } from '../../hypervisor/xml/domain-xml.js';
import { libvirtNames } from '../../hypervisor/xml/names.js';
import type { FloatingIpEntity, VpcEntity } from '../../networks/network.entities.js';
import type { NodeEntity, NodePhase } from '../../nodes/node.entity.js';
import type { NodeStatusPatch } from '../../nodes/node-status.js';

/** What a phase asks of the pass: go on, or stop here; either may ask to be run again later. */
export interface PhaseResult {
  stop?: boolean;
  requeueAfterMs?: number;
}
export const CONTINUE: PhaseResult = {};

export interface NodePhaseStep {
  readonly name: string;
  run(scope: NodeScope): Promise<PhaseResult>;
}

interface PendingEvent {
  type: 'normal' | 'warning';
  reason: string;
  message: string;
}

/**
 * One pass over one node, built once: the node, its cluster, its host, what was observed, and the
 * status the pass decides on. Phases read and add to it; the pass writes the status once, at its
 * end, as a patch of only what it changed.
 */
export class NodeScope {
  readonly names: { domain: string; disk: string; seed: string };
  /** The cluster's VPC, read with the node (undefined: not read yet). */
  vpc: VpcEntity | undefined;
  /** The cluster's floating IP, read with the node (null: it has none; undefined: not read yet). */
  floatingIp: FloatingIpEntity | null | undefined;
  image: ImageEntity | null = null;
  /** Decided by the phases for the domain phase. */
  readonly domainParts: { nics: DomainSpec['nics']; bundleVolume?: string } = { nics: [] };
  readonly observed: { domainState?: VmState } = {};
  readonly status: NodeStatusPatch = {};
  readonly events: PendingEvent[] = [];
  /** The cluster's plan turns on this pass's outcome: its reconcile is queued after the write. */
  nudgeCluster = false;
  /** The node row is gone (teardown finished): there is no status left to write. */
  removed = false;

  constructor(
    readonly node: NodeEntity,
    readonly cluster: ClusterEntity | null,
    readonly runtime: HostRuntime,
    readonly backend: HostBackend,
  ) {
    this.names = {
      domain: libvirtNames.domain(node.id),
      disk: libvirtNames.nodeVolume(node.id),
      seed: libvirtNames.seedVolume(node.id),
    };
  }

  get target() {
    return { tenantId: this.node.tenantId, clusterId: this.node.clusterId, nodeId: this.node.id };
  }

  /** The phase as this pass leaves it. */
  get phase(): NodePhase {
    return this.status.phase ?? this.node.phase;
  }

  /** The cluster this node is provisioned for; only the delete path runs without one. */
  get liveCluster(): ClusterEntity {
    if (!this.cluster) throw new Error(`node ${this.node.id} has no cluster`);
    return this.cluster;
  }

  event(type: PendingEvent['type'], reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }

  /** Moves the node to a phase, with its Ready condition and the event a tenant reads. */
  setPhase(phase: NodePhase, reason: string, message: string): void {
    const was = this.phase;
    if (was === phase) return;
    this.status.phase = phase;
    if (phase !== 'Deleting') {
      this.status.conditions = [
        ...(this.status.conditions ?? []).filter((c) => c.type !== 'Ready'),
        { type: 'Ready', status: phase === 'Ready' ? 'True' : 'False', reason, message },
      ];
    }
    if (phase === 'Ready') {
      this.status.readyAt = new Date();
      this.status.unhealthySince = null;
    }
    if (phase !== 'Deleting')
      this.event(phase === 'Failed' ? 'warning' : 'normal', `Node${phase}`, `${this.node.name}: ${message}`);
    // The cluster's plan turns on readiness and failure; the steps of a boot (Provisioning,
    // Booting, Joining) show in its conditions at its next pass, which comes within 10 requeues.
    if (phase === 'Ready' || was === 'Ready' || phase === 'NotReady' || phase === 'Failed') this.nudgeCluster = true;
  }
}
