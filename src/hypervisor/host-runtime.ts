import type { Logger } from 'pino';
import { GuestSimulator, type SimulatorTimings } from './guest-simulator.js';
import { type GuestProbe, HttpGuestProbe } from './guest-status.js';
import type { HostEntity } from './host.entity.js';
import { HostDriver } from './host-driver.js';
import { LibvirtConnection } from './libvirt/index.js';

export interface HostRuntimeEvents {
  connected(hostId: string): Promise<void>;
  disconnected(hostId: string, error: string): Promise<void>;
  /** A domain stopped or vanished without the platform asking (crash, virsh destroy). */
  domainStopped(hostId: string, domainName: string): void;
}

/**
 * One host as seen from the worker that holds its lease: the one libvirt connection, the driver
 * on it, and how its guests are probed. Reconnects with backoff when libvirtd goes away.
 */
export class HostRuntime {
  driver: HostDriver | undefined;
  readonly simulator: GuestSimulator | undefined;
  readonly probe: GuestProbe;
  private conn: LibvirtConnection | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private unsubscribeEvents: (() => Promise<void>) | undefined;
  /** A simulated network partition: the connection is kept but the platform cannot use it. */
  private partitionedDriver: HostDriver | undefined;
  /** Domains the platform itself is stopping, so their stop is not reported as a crash. */
  private readonly expectedStops = new Set<string>();

  constructor(
    readonly host: HostEntity,
    private readonly events: HostRuntimeEvents,
    private readonly logger: Logger,
    timings: SimulatorTimings,
  ) {
    this.simulator = host.simulated ? new GuestSimulator(timings) : undefined;
    this.probe = this.simulator ?? new HttpGuestProbe();
  }

  get connected(): boolean {
    return this.driver !== undefined;
  }

  expectStop(domainName: string): void {
    this.expectedStops.add(domainName);
  }

  async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const conn = await LibvirtConnection.open(this.host.uri);
      this.conn = conn;
      conn.onClose((e) => {
        if (this.closed) return;
        this.logger.warn({ host: this.host.name, reason: e.reason }, 'libvirt connection lost');
        this.driver = undefined;
        void this.events.disconnected(this.host.id, `connection closed (${e.reason})`).catch(() => undefined);
        this.scheduleReconnect();
      });
      this.unsubscribeEvents = await conn.onDomainEvent((e) => {
        if (e.event === 'started') this.simulator?.started(e.domainName);
        if (e.event === 'stopped' || e.event === 'undefined' || e.event === 'crashed') {
          this.simulator?.stopped(e.domainName);
          if (e.event !== 'undefined' && !this.expectedStops.delete(e.domainName)) {
            this.events.domainStopped(this.host.id, e.domainName);
          }
        }
      });
      this.driver = new HostDriver(conn, this.host.simulated);
      this.attempts = 0;
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn({ host: this.host.name, err: message }, 'cannot connect to host');
      await this.events.disconnected(this.host.id, message).catch(() => undefined);
      this.scheduleReconnect();
      return;
    }
    // Recording the state needs the database, which may be away a moment: that is no reason to
    // drop a good connection, and the next sweep records the host as Ready anyway.
    await this.events
      .connected(this.host.id)
      .catch((err: unknown) =>
        this.logger.warn({ host: this.host.name, err: (err as Error).message }, 'cannot record the host as Ready'),
      );
  }

  /**
   * Simulated hosts only: the host drops off the network (the platform sees it as unreachable;
   * its VMs keep running, as on a real host behind a partition) or comes back.
   */
  async partition(on: boolean): Promise<boolean> {
    if (!this.simulator) return false;
    if (on && this.driver) {
      this.partitionedDriver = this.driver;
      this.driver = undefined;
      await this.events.disconnected(this.host.id, 'host unreachable (simulated network partition)');
      return true;
    }
    if (!on && this.partitionedDriver) {
      this.driver = this.partitionedDriver;
      this.partitionedDriver = undefined;
      await this.events.connected(this.host.id);
      return true;
    }
    return false;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = Math.min(30000, 500 * 2 ** this.attempts++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.driver = undefined;
    await this.unsubscribeEvents?.().catch(() => undefined);
    await this.conn?.close().catch(() => undefined);
  }
}
