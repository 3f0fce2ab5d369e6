/** Choosing a host for a new VM. Pure: the caller passes a snapshot of the hosts. */

export interface HostSnapshot {
  id: string;
  name: string;
  /** Only Ready, undrained hosts take new VMs. */
  schedulable: boolean;
  cpus: number;
  memoryMiB: number;
  allocatedVcpus: number;
  allocatedMemoryMiB: number;
  /** Disk for volumes (GiB); null: unknown, no limit. Volumes are thin, but may all fill up. */
  diskGiB?: number | null;
  allocatedDiskGiB?: number;
  /** How many nodes of the cluster being placed already run here, by role. */
  clusterMasters: number;
  clusterWorkers: number;
}

export interface PlacementSettings {
  cpuOvercommit: number;
  memoryOvercommit: number;
}

export interface PlacementRequest {
  vcpus: number;
  memoryMiB: number;
  diskGiB?: number;
  role: 'master' | 'worker';
}

export type PlacementResult = { ok: true; hostId: string } | { ok: false; reason: string };

function freeVcpus(h: HostSnapshot, s: PlacementSettings): number {
  return h.cpus * s.cpuOvercommit - h.allocatedVcpus;
}

function freeMemory(h: HostSnapshot, s: PlacementSettings): number {
  return h.memoryMiB * s.memoryOvercommit - h.allocatedMemoryMiB;
}

/** Disk is not overcommitted: thin volumes that all fill up would pause every VM of the host. */
function freeDisk(h: HostSnapshot): number {
  return h.diskGiB == null ? Infinity : h.diskGiB - (h.allocatedDiskGiB ?? 0);
}

/**
 * Masters go to hosts without a master of the same cluster while any such host has room (so one
 * host failure cannot take quorum); workers spread over the hosts with the fewest of the
 * cluster's nodes. Ties go to the host with the most free memory, then by name.
 */
export function placeNode(hosts: HostSnapshot[], req: PlacementRequest, s: PlacementSettings): PlacementResult {
  const schedulable = hosts.filter((h) => h.schedulable);
  if (schedulable.length === 0)
    return { ok: false, reason: 'no schedulable host (all are drained, unreachable or absent)' };
  const fitting = schedulable.filter(
    (h) => freeVcpus(h, s) >= req.vcpus && freeMemory(h, s) >= req.memoryMiB && freeDisk(h) >= (req.diskGiB ?? 0),
  );
  if (fitting.length === 0) {
    const what = req.diskGiB
      ? `${req.vcpus} vCPUs, ${req.memoryMiB} MiB and ${req.diskGiB} GiB of disk`
      : `${req.vcpus} vCPUs and ${req.memoryMiB} MiB`;
    return { ok: false, reason: `no host has ${what} free` };
  }
  let candidates = fitting;
  if (req.role === 'master') {
    const withoutMaster = fitting.filter((h) => h.clusterMasters === 0);
    if (withoutMaster.length > 0) candidates = withoutMaster;
  }
  const spread = (h: HostSnapshot) => (req.role === 'master' ? h.clusterMasters : h.clusterMasters + h.clusterWorkers);
  const best = [...candidates].sort(
    (a, b) =>
      spread(a) - spread(b) ||
      freeMemory(b, s) / (b.memoryMiB * s.memoryOvercommit) - freeMemory(a, s) / (a.memoryMiB * s.memoryOvercommit) ||
      a.name.localeCompare(b.name),
  )[0];
  return { ok: true, hostId: best.id };
}

/** Places several nodes one after another, each seeing the ones placed before it. */
export function placeNodes(hosts: HostSnapshot[], reqs: PlacementRequest[], s: PlacementSettings): PlacementResult[] {
  const state = hosts.map((h) => ({ ...h }));
  return reqs.map((req) => {
    const result = placeNode(state, req, s);
    if (result.ok) {
      const h = state.find((x) => x.id === result.hostId)!;
      h.allocatedVcpus += req.vcpus;
      h.allocatedMemoryMiB += req.memoryMiB;
      h.allocatedDiskGiB = (h.allocatedDiskGiB ?? 0) + (req.diskGiB ?? 0);
      if (req.role === 'master') h.clusterMasters++;
      else h.clusterWorkers++;
    }
    return result;
  });
}
