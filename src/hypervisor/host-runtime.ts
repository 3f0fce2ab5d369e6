import type { Logger } from 'pino';
import { createHostBackend, type HostBackend, type SimulatorTimings } from './backends/index.js';
import type { HostEntity } from './host.entity.js';
import { LibvirtConnection } from './libvirt/index.js';

export interface HostRuntimeEvents {
  connected(hostId: string): Promise<void>;
  disconnected(hostId: string, error: string): Promise<void>;
  /** A domain stopped or vanished without the platform asking (crash, virsh destroy). */
  domainStopped(hostId: string, domainName: string): void;
}

/**
 * One host as seen from the worker that holds its lease: the one libvirt connection and the
 * backend on it (undefined while the host cannot be reached). Reconnects with backoff when
 * libvirtd goes away.
 */
export class HostRuntime {
  backend: HostBackend | undefined;
  private conn: LibvirtConnection | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private unsubscribeEvents: (() => Promise<void>) | undefined;
  /** A simulated network partition: the connection is kept but the platform cannot use it. */
  private partitionedBackend: HostBackend | undefined;
  /** Domains the platform itself is stopping, so their stop is not reported as a crash. */
  private readonly expectedStops = new Set<string>();

  constructor(
    readonly host: HostEntity,
    private readonly events: HostRuntimeEvents,
    private readonly logger: Logger,
    private readonly timings: SimulatorTimings,
  ) {}

  get connected(): boolean {
    return this.backend !== undefined;
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
        this.backend = undefined;
        void this.events.disconnected(this.host.id, `connection closed (${e.reason})`).catch(() => undefined);
        this.scheduleReconnect();
      });
      const backend = createHostBackend(this.host, conn, this.timings);
      this.unsubscribeEvents = await conn.onDomainEvent((e) => {
        backend.observeDomainEvent(e);
        if (e.event === 'stopped' || e.event === 'crashed') {
          if (!this.expectedStops.delete(e.domainName)) this.events.domainStopped(this.host.id, e.domainName);
        }
      });
      // What the backend learns here (guests already running) it can also do without.
      await backend
        .attached()
        .catch((err: unknown) =>
          this.logger.warn({ host: this.host.name, err: (err as Error).message }, "cannot list the host's domains"),
        );
      this.backend = backend;
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
   * Hosts that take injected faults only: the host drops off the network (the platform sees it
   * as unreachable; its VMs keep running, as on a real host behind a partition) or comes back.
   */
  async partition(on: boolean): Promise<boolean> {
    if (!(this.backend ?? this.partitionedBackend)?.faults) return false;
    if (on && this.backend) {
      this.partitionedBackend = this.backend;
      this.backend = undefined;
      await this.events.disconnected(this.host.id, 'host unreachable (simulated network partition)');
      return true;
    }
    if (!on && this.partitionedBackend) {
      this.backend = this.partitionedBackend;
      this.partitionedBackend = undefined;
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
    this.backend = undefined;
    await this.unsubscribeEvents?.().catch(() => undefined);
    await this.conn?.close().catch(() => undefined);
  }
}
