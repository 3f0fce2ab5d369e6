import type { LibvirtConnection } from '../libvirt/index.js';
import { VolumeTooLargeError } from '../libvirt/libvirt-connection.js';
import type { DomainLifecycleEvent } from '../libvirt/libvirt-types.js';
import { GuestSimulator, type SimulatorTimings } from './guest-simulator.js';
import type { GuestProbeTarget, ProbeResult } from './guest-status.js';
import type { DomainStats, HostFaults } from './host-backend.js';
import { LibvirtHostBackend } from './libvirt-host-backend.js';
import { LIBVIRT_PREFIX } from '../xml/names.js';

/** A small placeholder for content that no simulated guest reads. */
const PLACEHOLDER_BYTES = 2048;

/**
 * A host whose libvirt objects are real (libvirt's test driver, through the same binding) and
 * whose guests are played in memory by a GuestSimulator: they run no code, read no seed and
 * stop at once when asked. Faults can be injected. Serves the zero-setup demo, the fast tests
 * and the scale benchmarks.
 */
export class SimulatedHostBackend extends LibvirtHostBackend implements HostFaults {
  /** The test driver's pools are fiction: a simulated host has the disk it was registered with. */
  override storageCapacityGiB(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  override readonly kind = 'simulated' as const;
  readonly simulator: GuestSimulator;
  readonly faults: HostFaults = this;

  constructor(conn: LibvirtConnection, timings: SimulatorTimings) {
    const simulator = new GuestSimulator(timings);
    super(conn, simulator);
    this.simulator = simulator;
  }

  /**
   * Guests running when the host is reached were started before this backend existed: a host
   * served by a libvirtd (`test+unix://…`) keeps its domains while the worker holding it restarts
   * or hands it over. They are taken as booted and ready, as a real host's guests would answer.
   */
  override async attached(): Promise<void> {
    for (const d of await this.conn.listDomains()) {
      if (d.active && d.name.startsWith(LIBVIRT_PREFIX) && !this.simulator.isRunning(d.name))
        this.simulator.adopt(d.name);
    }
  }

  override observeDomainEvent(e: DomainLifecycleEvent): void {
    if (e.event === 'started') this.simulator.started(e.domainName);
    if (e.event === 'stopped' || e.event === 'undefined' || e.event === 'crashed') this.simulator.stopped(e.domainName);
  }

  override consoleLogPath(): string | undefined {
    return undefined;
  }

  override probeGuest(target: GuestProbeTarget): Promise<ProbeResult> {
    return this.simulator.probe(target);
  }

  /** The test driver has no folders to make. */
  protected override async buildPool(): Promise<void> {}

  protected override checksPoolFolders(): boolean {
    return false;
  }

  /** The test driver reports a concurrent start with an error of another kind. */
  protected override mayHaveRacedStart(): boolean {
    return true;
  }

  /** Simulated guests read nothing: the content is never built, the volume only marks its place. */
  override async ensureContentVolume(pool: string, name: string): Promise<{ created: boolean }> {
    const { created } = await this.ensureVolume(pool, { name, capacityBytes: PLACEHOLDER_BYTES, format: 'raw' });
    return { created };
  }

  /**
   * Blob contents by pool, then volume name. The test driver can neither upload nor download, so
   * the bytes live here, with this backend: they are gone when the worker holding it restarts.
   */
  private readonly blobs = new Map<string, Map<string, Buffer>>();

  /** The volume only marks the blob's place (listVolumes, inventory); its bytes are kept in memory. */
  override async storeBlobVolume(pool: string, name: string, data: Buffer): Promise<void> {
    await this.removeVolume(pool, name);
    await this.ensureVolume(pool, { name, capacityBytes: PLACEHOLDER_BYTES, format: 'raw' });
    let inPool = this.blobs.get(pool);
    if (!inPool) this.blobs.set(pool, (inPool = new Map()));
    // Copied both ways: what is stored must not change with the caller's buffer.
    inPool.set(name, Buffer.from(data));
  }

  override async readBlobVolume(pool: string, name: string, maxBytes: number): Promise<Buffer> {
    const data = this.blobs.get(pool)?.get(name);
    if (!data) {
      // A volume that is not there is not found, as on a real host.
      await this.conn.lookupVolume(pool, name);
      throw new Error(
        `the simulated host lost the content of volume ${name} in pool ${pool}: ` +
          'simulated hosts keep it in memory only, so it is gone after a worker restart',
      );
    }
    if (data.length > maxBytes) throw new VolumeTooLargeError(pool, name, data.length, maxBytes);
    return Buffer.from(data);
  }

  override async removeVolume(pool: string, name: string): Promise<void> {
    await super.removeVolume(pool, name);
    this.blobs.get(pool)?.delete(name);
  }

  override async removePool(name: string): Promise<void> {
    await super.removePool(name);
    this.blobs.delete(name);
  }

  /** A simulated guest powers off at once. */
  override stopDomain(name: string): Promise<'stopped' | 'destroyed' | 'absent'> {
    return this.shutdownDomain(name, 0);
  }

  /** CPU time comes from the simulated load, as libvirt would report it for a real guest. */
  override async domainStats(name: string): Promise<DomainStats | undefined> {
    const info = await super.domainStats(name);
    const cpu = info && this.simulator.cpuTimeNs(name, info.vcpus);
    return info && cpu !== undefined ? { ...info, cpuTimeNs: cpu } : info;
  }

  injectGuestFault(domainName: string, fault: 'hang' | 'unready'): boolean {
    return this.simulator.fault(domainName, fault);
  }

  setCpuLoad(domainName: string, cpuPercent: number, vcpus: number): boolean {
    return this.simulator.setCpuLoad(domainName, cpuPercent, vcpus);
  }

  async crash(domainName: string): Promise<void> {
    await this.destroyDomain(domainName);
  }
}
