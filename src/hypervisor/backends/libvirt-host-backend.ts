import { type LibvirtConnection, LIBVIRT, isAlreadyExists, isNotFound, isOperationInvalid } from '../libvirt/index.js';
import type { DomainLifecycleEvent } from '../libvirt/libvirt-types.js';
import { domainXml, type DomainSpec, KAAS_METADATA_NS, parseOwnerMetadata } from '../xml/domain-xml.js';
import { LIBVIRT_PREFIX, libvirtNames } from '../xml/names.js';
import { poolXml, type PoolSpec, volumeXml, type VolumeSpec } from '../xml/storage-xml.js';
import type { GuestProbe, GuestProbeTarget, ProbeResult } from './guest-status.js';
import { ChannelGuestProbe } from './guest-status-channel.js';
import type { DomainStats, HostBackend, HostInventory, OwnedDomain, VmState } from './host-backend.js';

/** How long a guest has to power off when asked before it is destroyed. */
const SHUTDOWN_GRACE_MS = 20000;

/**
 * A host whose guests are real VMs under libvirt (qemu:///system, qemu+ssh://...). Idempotent
 * operations: every `ensure` observes first and acts only where needed, every `remove` treats
 * "already gone" as done. A crash between any two calls is therefore repaired by calling the
 * same sequence again.
 */
export class LibvirtHostBackend implements HostBackend {
  readonly kind: HostBackend['kind'] = 'libvirt';

  constructor(
    readonly conn: LibvirtConnection,
    private readonly guests: GuestProbe = new ChannelGuestProbe(conn),
  ) {}

  attached(): Promise<void> {
    return Promise.resolve();
  }

  observeDomainEvent(event: DomainLifecycleEvent): void {
    // A status read before a stop or a restart says nothing about the guest now. The channel of
    // a stopped domain ends by itself too; this also covers a restart between two probes.
    if (['started', 'stopped', 'crashed', 'undefined'].includes(event.event)) this.guests.forget?.(event.domainName);
  }

  consoleLogPath(domainName: string): string | undefined {
    return `/var/log/libvirt/qemu/${domainName}.console.log`;
  }

  probeGuest(target: GuestProbeTarget): Promise<ProbeResult> {
    return this.guests.probe(target);
  }

  /** Building a dir pool creates its folder; a failure here is real. */
  protected async buildPool(name: string): Promise<void> {
    await this.conn.buildPool(name, LIBVIRT.VIR_STORAGE_POOL_BUILD_NEW);
  }

  /** Whether a failed start may have lost a race with another start of the same domain. */
  protected mayHaveRacedStart(err: unknown): boolean {
    return isOperationInvalid(err);
  }

  /** Directory pools whose folder this connection has checked (once per pool and connection). */
  private readonly checkedPools = new Set<string>();

  /** Whether an existing directory pool is checked for its folder (the test driver has none). */
  protected checksPoolFolders(): boolean {
    return true;
  }

  async ensurePool(spec: PoolSpec): Promise<{ created: boolean }> {
    let created = false;
    // Whether the pool was found running; a lookup reports it, so a pool in use costs one call.
    let active = false;
    try {
      active = (await this.conn.lookupPool(spec.name)).active;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Node jobs of one host run side by side: another may define or start it meanwhile.
      created = await this.conn.definePool(poolXml(spec)).then(
        () => true,
        (e: unknown) => {
          if (!isAlreadyExists(e)) throw e;
          return false;
        },
      );
    }
    if (created && spec.type === 'dir') await this.buildPool(spec.name);
    else if (spec.type === 'dir' && this.checksPoolFolders() && !this.checkedPools.has(spec.name)) {
      await this.repairDirPool(spec);
      active = false; // a repair may have stopped or redefined it: asked again below
    }
    this.checkedPools.add(spec.name);
    if (!active && !(await this.conn.isPoolActive(spec.name))) {
      await this.conn.startPool(spec.name).catch(async (err: unknown) => {
        if (!isOperationInvalid(err) || !(await this.conn.isPoolActive(spec.name))) throw err;
      });
      await this.conn.setPoolAutostart(spec.name, true).catch(() => undefined);
    }
    return { created };
  }

  /**
   * A directory pool defined before whose folder is gone (removed by hand, or by whoever set up
   * the host before): the folder is made again, where the platform's settings say now
   * (KAAS_HOST_DATA_DIR may have changed; with the folder gone the pool holds nothing to keep).
   * A pool whose folder is there stays as it is, wherever it points.
   */
  private async repairDirPool(spec: Extract<PoolSpec, { type: 'dir' }>): Promise<void> {
    const active = await this.conn.isPoolActive(spec.name);
    const usable = active
      ? await this.conn.refreshPool(spec.name).then(
          () => true,
          () => false,
        )
      : await this.conn.startPool(spec.name).then(
          () => true,
          () => false,
        );
    if (usable) return;
    if (active) await this.conn.destroyPool(spec.name).catch(() => undefined);
    const path = /<target>\s*<path>([^<]*)<\/path>/.exec(await this.conn.getPoolXML(spec.name))?.[1];
    if (path !== spec.path) {
      await this.conn.undefinePool(spec.name);
      await this.conn.definePool(poolXml(spec));
    }
    await this.buildPool(spec.name);
  }

  async removePool(name: string): Promise<void> {
    try {
      if (await this.conn.isPoolActive(name)) await this.conn.destroyPool(name);
      await this.conn.undefinePool(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async ensureVolume(pool: string, spec: VolumeSpec): Promise<{ created: boolean; path: string }> {
    try {
      // The lookup brings the volume's path with it.
      return { created: false, path: (await this.conn.lookupVolume(pool, spec.name)).path };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await this.conn.createVolume(pool, volumeXml(spec));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return { created: true, path: await this.conn.getVolumePath(pool, spec.name) };
  }

  /** A raw volume of exactly the content's size holding it; built only when the volume is missing. */
  async ensureContentVolume(pool: string, name: string, build: () => Promise<Buffer>): Promise<{ created: boolean }> {
    if ((await this.listVolumes(pool)).includes(name)) return { created: false };
    const content = await build();
    const { created } = await this.ensureVolume(pool, { name, capacityBytes: content.length, format: 'raw' });
    if (created) await this.conn.uploadVolume(pool, name, content);
    return { created };
  }

  /** Replaced as a whole: libvirt cannot rename a volume, so there is no write-then-swap. */
  async storeBlobVolume(pool: string, name: string, data: Buffer): Promise<void> {
    await this.removeVolume(pool, name);
    // A directory pool makes a raw volume's file exactly this long, so its capacity is the blob's length.
    await this.conn.createVolume(pool, volumeXml({ name, capacityBytes: data.length, format: 'raw' }));
    if (data.length === 0) return;
    try {
      await this.conn.uploadVolume(pool, name, data);
    } catch (err) {
      await this.removeVolume(pool, name).catch(() => undefined);
      throw err;
    }
  }

  readBlobVolume(pool: string, name: string, maxBytes: number): Promise<Buffer> {
    return this.conn.downloadVolume(pool, name, maxBytes);
  }

  async removeVolume(pool: string, name: string): Promise<void> {
    try {
      await this.conn.deleteVolume(pool, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async listVolumes(pool: string): Promise<string[]> {
    try {
      return (await this.conn.listVolumes(pool)).map((v) => v.name);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  async ensureDomain(spec: DomainSpec): Promise<{ created: boolean }> {
    try {
      await this.conn.lookupDomain(spec.name);
      return { created: false };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await this.conn.defineDomain(domainXml(spec));
    return { created: true };
  }

  async startDomain(name: string): Promise<{ started: boolean }> {
    if (await this.conn.isDomainActive(name)) return { started: false };
    try {
      await this.conn.startDomain(name);
      return { started: true };
    } catch (err) {
      // Someone else started it between the check and the call.
      if (this.mayHaveRacedStart(err) && (await this.conn.isDomainActive(name))) return { started: false };
      throw err;
    }
  }

  async domainState(name: string): Promise<VmState> {
    try {
      return (await this.conn.getDomainInfo(name)).state;
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw err;
    }
  }

  /** State and statistics in one call; undefined when the domain does not exist. */
  async domainStats(name: string): Promise<DomainStats | undefined> {
    try {
      const info = await this.conn.getDomainInfo(name);
      return { state: info.state, cpuTimeNs: info.cpuTimeNs, memoryKiB: info.memoryKiB, vcpus: info.vcpus };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Asks the guest to power off; destroys it when it has not stopped within its grace period. */
  stopDomain(name: string): Promise<'stopped' | 'destroyed' | 'absent'> {
    return this.shutdownDomain(name, SHUTDOWN_GRACE_MS);
  }

  async shutdownDomain(name: string, timeoutMs: number): Promise<'stopped' | 'destroyed' | 'absent'> {
    try {
      if (!(await this.conn.isDomainActive(name))) return 'stopped';
      await this.conn.shutdownDomain(name);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (!(await this.conn.isDomainActive(name))) return 'stopped';
        await new Promise((r) => setTimeout(r, Math.min(250, timeoutMs)));
      }
      await this.conn.destroyDomain(name);
      return 'destroyed';
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      if (isOperationInvalid(err) && !(await this.conn.isDomainActive(name).catch(() => false))) return 'stopped';
      throw err;
    }
  }

  /** Destroys (if running) and undefines; "already gone" is success. */
  async removeDomain(name: string): Promise<void> {
    try {
      if (await this.conn.isDomainActive(name)) await this.conn.destroyDomain(name);
    } catch (err) {
      if (!isNotFound(err) && !isOperationInvalid(err)) throw err;
    }
    try {
      await this.conn.undefineDomain(
        name,
        LIBVIRT.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | LIBVIRT.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async destroyDomain(name: string): Promise<void> {
    try {
      await this.conn.destroyDomain(name);
    } catch (err) {
      if (!isNotFound(err) && !isOperationInvalid(err)) throw err;
    }
  }

  /** Every domain carrying the platform's prefix, with the owner ids from its metadata. */
  async listOwnedDomains(only: (name: string) => boolean = () => true): Promise<OwnedDomain[]> {
    const refs = (await this.conn.listDomains()).filter((d) => d.name.startsWith(LIBVIRT_PREFIX) && only(d.name));
    const out: OwnedDomain[] = [];
    for (const ref of refs) {
      let owner: OwnedDomain['owner'];
      try {
        const meta = await this.conn.getDomainMetadata(ref.name, KAAS_METADATA_NS);
        owner = meta ? parseOwnerMetadata(meta) : undefined;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        continue;
      }
      out.push({ name: ref.name, active: ref.active, owner });
    }
    return out;
  }

  /** Volumes (by name) that some domain on the host has as a disk. */
  async volumesInUse(): Promise<Set<string>> {
    const used = new Set<string>();
    for (const ref of await this.conn.listDomains()) {
      let xml: string;
      try {
        xml = await this.conn.getDomainXML(ref.name);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      for (const m of xml.matchAll(/<source\b[^>]*\bvolume=['"]([^'"]+)['"]/g)) used.add(m[1]);
    }
    return used;
  }

  /** Domains with their owners, and pools with their volumes. */
  async inventory(): Promise<HostInventory> {
    const pools: HostInventory['pools'] = [];
    for (const name of await this.listPools()) pools.push({ name, volumes: await this.listVolumes(name) });
    return { domains: await this.listOwnedDomains(), pools };
  }

  async listPools(): Promise<string[]> {
    return (await this.conn.listPools()).map((p) => p.name).filter((n) => n.startsWith(LIBVIRT_PREFIX));
  }

  async storageCapacityGiB(): Promise<number | undefined> {
    const pool = libvirtNames.platformPool();
    if (!(await this.listPools()).includes(pool)) return undefined;
    // A directory pool reports its file system: what every pool of the host shares.
    const { capacity } = await this.conn.getPoolInfo(pool);
    return capacity > 0 ? Math.floor(capacity / 2 ** 30) : undefined;
  }
}
