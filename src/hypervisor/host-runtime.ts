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
        void this.events.disconnected(this.host.id, `connection closed (${e.reason})`);
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
      await this.events.connected(this.host.id);
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn({ host: this.host.name, err: message }, 'cannot connect to host');
      await this.events.disconnected(this.host.id, message);
      this.scheduleReconnect();
    }
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
