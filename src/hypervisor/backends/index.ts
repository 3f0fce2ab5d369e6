import type { HostEntity } from '../host.entity.js';
import type { LibvirtConnection } from '../libvirt/index.js';
import type { SimulatorTimings } from './guest-simulator.js';
import type { HostBackend } from './host-backend.js';
import { LibvirtHostBackend } from './libvirt-host-backend.js';
import { SimulatedHostBackend } from './simulated-host-backend.js';
import { timedHostBackend } from './timed-host-backend.js';

export type { DomainStats, HostBackend, HostFaults, HostInventory, OwnedDomain, VmState } from './host-backend.js';
export type { SimulatorTimings } from './guest-simulator.js';
export type { GuestStage, GuestStatus, ProbeResult } from './guest-status.js';
export { LibvirtHostBackend } from './libvirt-host-backend.js';
export { SimulatedHostBackend } from './simulated-host-backend.js';
export { hypervisorCallErrors, hypervisorCallSeconds } from './timed-host-backend.js';

/** The one place that decides how a host is driven. */
export function backendKindOf(host: Pick<HostEntity, 'simulated'>): HostBackend['kind'] {
  return host.simulated ? 'simulated' : 'libvirt';
}

/** Made once, when a host's runtime connects; every call it makes to the host is timed. */
export function createHostBackend(host: HostEntity, conn: LibvirtConnection, timings: SimulatorTimings): HostBackend {
  return timedHostBackend(
    backendKindOf(host) === 'simulated' ? new SimulatedHostBackend(conn, timings) : new LibvirtHostBackend(conn),
  );
}
