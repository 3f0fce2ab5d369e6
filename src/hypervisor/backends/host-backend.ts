import type { DomainLifecycleEvent, DomainStateName } from '../libvirt/libvirt-types.js';
import type { DomainSpec } from '../xml/domain-xml.js';
import type { PoolSpec, VolumeSpec } from '../xml/storage-xml.js';
import type { GuestProbeTarget, ProbeResult } from './guest-status.js';

export type VmState = DomainStateName | 'absent';

export interface OwnedDomain {
  name: string;
  active: boolean;
  owner?: { tenantId: string; clusterId: string; nodeId: string; role: string };
}

/** Everything the platform has made on one host, as the host reports it. */
export interface HostInventory {
  domains: OwnedDomain[];
  pools: { name: string; volumes: string[] }[];
}

export interface DomainStats {
  state: DomainStateName;
  cpuTimeNs: number;
  memoryKiB: number;
  vcpus: number;
}

/** Faults a test or an operator's drill can inject into a host whose guests are simulated. */
export interface HostFaults {
  /** The guest stops answering (`hang`) or answers "not ready" (`unready`). */
  injectGuestFault(domainName: string, fault: 'hang' | 'unready'): boolean;
  /** The guest uses this share of its vCPUs from now on (usage metrics, autoscaling). */
  setCpuLoad(domainName: string, cpuPercent: number, vcpus: number): boolean;
  /** The guest dies as a crashed VM would: stopped behind the platform's back. */
  crash(domainName: string): Promise<void>;
}

/**
 * What the platform can do on one hypervisor host: storage, domains, boot seeds, guest status
 * and, where supported, injected faults. Tenant networks are OVN's, not the host's: a domain's
 * NIC is a port of the host's integration bridge. Every `ensure` observes before it acts and
 * every `remove` takes "already gone" as done, so a pass that died between two calls is finished
 * by running it again. Two implementations, chosen once when a host's runtime connects
 * (`createHostBackend`): libvirt with real guests, and the simulator (libvirt's test driver with
 * guests played in memory). Nothing above this interface asks which one it has.
 */
export interface HostBackend {
  readonly kind: 'libvirt' | 'simulated';

  ensurePool(spec: PoolSpec): Promise<{ created: boolean }>;
  removePool(name: string): Promise<void>;
  listPools(): Promise<string[]>;
  /** The size (GiB) of the file system under the platform's pool, once that pool exists. */
  storageCapacityGiB(): Promise<number | undefined>;
  ensureVolume(pool: string, spec: VolumeSpec): Promise<{ created: boolean; path: string }>;
  /**
   * A raw volume holding generated content (a boot seed, a bundle's artifacts). `build` runs only
   * when the volume is missing and the host's guests will read it.
   */
  ensureContentVolume(pool: string, name: string, build: () => Promise<Buffer>): Promise<{ created: boolean }>;
  /**
   * Stores `data` as a raw volume of exactly its length (a blob such as a backup), replacing any
   * volume of that name, so a retried job converges on the same content. A failed store leaves
   * no volume behind when it can; a process that dies in the middle may leave one whose content
   * is not `data`, so callers record what they stored (its length, a digest) and check it on read.
   */
  storeBlobVolume(pool: string, name: string, data: Buffer): Promise<void>;
  /**
   * The bytes of a volume written by storeBlobVolume, exactly as stored. A volume larger than
   * `maxBytes` is refused (VolumeTooLargeError) before any of it is read; a missing one rejects
   * as not found.
   */
  readBlobVolume(pool: string, name: string, maxBytes: number): Promise<Buffer>;
  removeVolume(pool: string, name: string): Promise<void>;
  listVolumes(pool: string): Promise<string[]>;
  /** Volumes (by name) that some domain on the host has as a disk. */
  volumesInUse(): Promise<Set<string>>;

  ensureDomain(spec: DomainSpec): Promise<{ created: boolean }>;
  startDomain(name: string): Promise<{ started: boolean }>;
  domainState(name: string): Promise<VmState>;
  domainStats(name: string): Promise<DomainStats | undefined>;
  /** Asks the guest to power off; destroys it once the host's grace period has passed. */
  stopDomain(name: string): Promise<'stopped' | 'destroyed' | 'absent'>;
  destroyDomain(name: string): Promise<void>;
  removeDomain(name: string): Promise<void>;
  listOwnedDomains(only?: (name: string) => boolean): Promise<OwnedDomain[]>;
  inventory(): Promise<HostInventory>;
  /** Where a guest's serial console is written, if the host keeps one. */
  consoleLogPath(domainName: string): string | undefined;
  /** The host's runtime forwards each domain lifecycle event here. */
  observeDomainEvent(event: DomainLifecycleEvent): void;
  /** Called once the runtime forwards the host's events, before the backend is used. */
  attached(): Promise<void>;

  /** Asks a running guest how far it got (boot, install, join, ready). */
  probeGuest(target: GuestProbeTarget): Promise<ProbeResult>;

  /** Present only where faults can be injected (simulated hosts). */
  readonly faults?: HostFaults;
}
