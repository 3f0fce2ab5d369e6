import type { HostBackend } from '../hypervisor/backends/index.js';
import { type ClusterTls, leaveControlPlane, type LeaveMethod, type LeaveResult } from './control-plane-leave.js';

/** What a node's leave needs; what costs a query is fetched only by a client that uses it. */
export interface LeaveTarget {
  method: LeaveMethod;
  role: 'master' | 'worker';
  nodeName: string;
  nodeAddress: string | null;
  port: number;
  /** Addresses of the cluster's other masters that may answer (never the leaving node). */
  otherMasters(): Promise<string[]>;
  tls(): Promise<ClusterTls | null>;
}

/** How the platform talks to a cluster's control plane. */
export interface ControlPlaneClient {
  /** null: there is nothing to leave through (no other master, no credentials yet). */
  leave(target: LeaveTarget): Promise<LeaveResult | null>;
}

/** Real control planes, over TLS with the cluster's admin credential. */
export class TlsControlPlaneClient implements ControlPlaneClient {
  async leave(target: LeaveTarget): Promise<LeaveResult | null> {
    const others = await target.otherMasters();
    const tls = others.length > 0 ? await target.tls() : null;
    if (!tls) return null;
    return leaveControlPlane({ ...target, otherMasters: others, tls });
  }
}

/** Simulated guests run no control plane: the leave is recorded so that its order is visible. */
export class SimulatedControlPlaneClient implements ControlPlaneClient {
  async leave(target: LeaveTarget): Promise<LeaveResult> {
    return { changed: true, message: `${target.nodeName} left the control plane (${target.method}, simulated)` };
  }
}

const CLIENTS: Record<HostBackend['kind'], ControlPlaneClient> = {
  libvirt: new TlsControlPlaneClient(),
  simulated: new SimulatedControlPlaneClient(),
};

/** The control planes of nodes on a host of this kind are reached this way. */
export function controlPlaneClientFor(kind: HostBackend['kind']): ControlPlaneClient {
  return CLIENTS[kind];
}
