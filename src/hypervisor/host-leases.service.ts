import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import { JobRunner } from '../jobs/job-runner.service.js';
import { hostQueueName, JobQueue } from '../jobs/job-types.js';
import { REDIS } from '../jobs/redis.provider.js';
import { MetricsService } from '../platform/metrics.service.js';
import { hypervisorCallErrors, hypervisorCallSeconds } from './backends/index.js';
import { HostRuntime } from './host-runtime.js';
import { HostsRepository } from './hosts.repository.js';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Spreads hosts over the live worker processes. A worker owns a host while it holds the host's
 * lease in Redis: it alone keeps the libvirt connection, consumes the host's queue and, for a
 * simulated host, holds its in-process state. A worker that dies loses its leases within
 * KAAS_HOST_LEASE_MS and another one takes the hosts over. A worker started with
 * KAAS_WORKER_HOSTS holds only the hosts named there (optional: say, to keep a remote site's
 * hosts with a worker near them); the other workers leave those hosts alone.
 */
@Injectable()
export class HostLeases implements OnApplicationShutdown {
  readonly workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly owned = new Map<string, HostRuntime>();
  /** Until when each lease is surely this worker's: its last renewal was sent then, plus its time. */
  private readonly validUntil = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private onDomainStopped: (hostId: string, domainName: string) => void = () => undefined;
  /** Host queues given up and still closing: a round does not wait for them (see drop). */
  private readonly closing = new Set<Promise<void>>();
  /** When the last round that reached Redis and the database ended. */
  private lastRound: number | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly hosts: HostsRepository,
    private readonly runner: JobRunner,
    private readonly jobs: JobQueue,
    metrics: MetricsService,
  ) {
    this.registerMetrics(metrics);
  }

  /**
   * The hosts this worker holds, their own queues' depth, and the latency of the calls made to
   * them (the backends' figures: they are made per connection, outside Nest).
   */
  private registerMetrics(metrics: MetricsService): void {
    const registers = [metrics.registry];
    for (const metric of [hypervisorCallSeconds, hypervisorCallErrors]) metrics.registry.registerMetric(metric);
    const held = new Gauge({
      name: 'kaas_host_lease_held',
      help: 'Hosts whose lease this worker holds (1 per host): it alone drives them',
      labelNames: ['host_id', 'host'],
      registers,
      collect: () => {
        held.reset();
        for (const [hostId, runtime] of this.owned)
          if (this.holds(hostId)) held.set({ host_id: hostId, host: runtime.host.name }, 1);
      },
    });
    const depth = new Gauge({
      name: 'kaas_host_queue_jobs',
      help: 'Jobs per state on the own queue of each host this worker holds',
      labelNames: ['host_id', 'host', 'state'],
      registers,
      collect: async () => {
        depth.reset();
        await Promise.all(
          [...this.owned].map(async ([hostId, runtime]) => {
            try {
              const counts = await this.jobs.hostQueueCounts(hostId);
              for (const [state, n] of Object.entries(counts))
                depth.set({ host_id: hostId, host: runtime.host.name, state }, n);
            } catch {
              // Redis unavailable: /readyz reports the outage.
            }
          }),
        );
      },
    });
  }

  /**
   * For the worker's /readyz: ok while the lease rounds run (the last one ended within a lease's
   * time) and every lease this worker counts as its own is surely still its own.
   */
  leaseHealth(): { ok: boolean; held: number; lapsed: number } {
    const lapsed = [...this.owned.keys()].filter((id) => !this.holds(id)).length;
    const fresh = this.lastRound !== undefined && Date.now() - this.lastRound < this.config.hostLeaseMs;
    return { ok: fresh && lapsed === 0, held: this.owned.size - lapsed, lapsed };
  }

  private key(kind: 'worker' | 'lease', id: string): string {
    return `${this.config.queuePrefix}:${kind}:${id}`;
  }

  setDomainStoppedHandler(handler: (hostId: string, domainName: string) => void): void {
    this.onDomainStopped = handler;
  }

  /**
   * The host's runtime while this worker surely holds its lease: past the moment the lease could
   * have lapsed (it could not be renewed, say Redis was away), another worker may hold the host,
   * so this one stops touching it.
   */
  runtime(hostId: string): HostRuntime | undefined {
    return this.holds(hostId) ? this.owned.get(hostId) : undefined;
  }

  private holds(hostId: string): boolean {
    return this.owned.has(hostId) && Date.now() < (this.validUntil.get(hostId) ?? 0);
  }

  ownedHostIds(): string[] {
    return [...this.owned.keys()];
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.floor(this.config.hostLeaseMs / 5)));
    this.sweepTimer = setInterval(() => void this.enqueueSweeps(), this.config.healthIntervalSeconds * 1000);
  }

  /** One round: heartbeat, renew, take a fair share, give back extras. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await this.redis.set(this.key('worker', this.workerId), this.heartbeat(), 'PX', this.config.hostLeaseMs);
      // Leases first, with Redis alone: a database that is away a moment must not cost them.
      for (const hostId of [...this.owned.keys()]) {
        const sent = Date.now();
        const renewed =
          (await this.redis.eval(RENEW, 1, this.key('lease', hostId), this.workerId, this.config.hostLeaseMs)) === 1;
        if (!renewed) await this.drop(hostId, 'lease lost');
        else this.validUntil.set(hostId, sent + this.config.hostLeaseMs);
      }
      const workers = await this.liveWorkers();
      const all = await this.hosts.list();
      // A pinned worker takes every host it is pinned to; the others share the rest evenly.
      const pins = this.config.workerHosts;
      const hosts = pins
        ? all.filter((h) => pins.includes(h.name))
        : all.filter((h) => !workers.pinnedNames.has(h.name));
      const share = pins ? hosts.length : Math.ceil(hosts.length / Math.max(1, workers.unpinned));
      const known = new Set(all.map((h) => h.id));
      const eligible = new Set(hosts.map((h) => h.id));
      for (const hostId of [...this.owned.keys()]) {
        if (!known.has(hostId)) await this.drop(hostId, 'host removed');
        else if (!eligible.has(hostId)) {
          // Another worker is pinned to it now (or this one no longer is): hand it over.
          await this.drop(hostId, 'pinned to another worker');
          await this.redis.eval(RELEASE, 1, this.key('lease', hostId), this.workerId);
        }
        // Consuming the host's queue may have failed to start with Redis away: try again.
        else await this.runner.startQueue(hostQueueName(hostId));
      }
      for (const host of hosts) {
        if (this.owned.size >= share) break;
        if (this.owned.has(host.id)) continue;
        const sent = Date.now();
        const got = await this.redis.set(
          this.key('lease', host.id),
          this.workerId,
          'PX',
          this.config.hostLeaseMs,
          'NX',
        );
        if (got === 'OK') {
          this.validUntil.set(host.id, sent + this.config.hostLeaseMs);
          await this.adopt(host.id);
        }
      }
      if (this.owned.size > share) {
        const extra = [...this.owned.keys()].pop()!;
        await this.drop(extra, 'rebalancing');
        await this.redis.eval(RELEASE, 1, this.key('lease', extra), this.workerId);
      }
      this.lastRound = Date.now();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'host lease round failed');
      // A lease that could not be renewed in time may be another worker's by now: let go.
      for (const hostId of [...this.owned.keys()]) {
        if (!this.holds(hostId)) await this.drop(hostId, 'lease not renewed in time').catch(() => undefined);
      }
    } finally {
      this.ticking = false;
    }
  }

  /** What this worker's heartbeat says: '*' for any host, or the names it is pinned to. */
  private heartbeat(): string {
    return this.config.workerHosts ? JSON.stringify({ hosts: this.config.workerHosts }) : '*';
  }

  /** How many live workers take any host, and which host names live workers are pinned to. */
  private async liveWorkers(): Promise<{ unpinned: number; pinnedNames: Set<string> }> {
    let cursor = '0';
    const keys: string[] = [];
    do {
      const [next, found] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.config.queuePrefix}:worker:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const values = keys.length > 0 ? await this.redis.mget(...keys) : [];
    let unpinned = 0;
    const pinnedNames = new Set<string>();
    for (const value of values) {
      if (value === null) continue;
      const hosts = pinnedTo(value);
      if (hosts) for (const name of hosts) pinnedNames.add(name);
      else unpinned++;
    }
    return { unpinned, pinnedNames };
  }

  private async adopt(hostId: string): Promise<void> {
    const host = await this.hosts.findById(hostId);
    if (!host) return;
    const runtime = new HostRuntime(
      host,
      {
        connected: async (id) => {
          // A real host is Ready once its sweep (queued now) finds its chassis in OVN's Southbound.
          const state = host.simulated || !this.config.ovn.southbound ? 'Ready' : 'Pending';
          await this.hosts.update(id, { state, lastSeenAt: new Date(), lastError: null });
          // Back (or new): sweep at once, so stale VMs of replaced nodes are fenced first thing.
          await this.jobs
            .enqueue('host.sweep', { hostId: id }, { hostId: id, resourceKey: `sweep-${id}` })
            .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'cannot enqueue sweep'));
        },
        disconnected: async (id, error) => {
          await this.hosts.update(id, { state: 'Unreachable', lastError: error.slice(0, 1000) });
        },
        domainStopped: (id, domainName) => this.onDomainStopped(id, domainName),
      },
      this.logger,
      { bootMs: this.config.simBootMs, installMs: this.config.simInstallMs },
    );
    this.owned.set(hostId, runtime);
    await runtime.connect();
    await this.runner.startQueue(hostQueueName(hostId));
    this.logger.info({ host: host.name, simulated: host.simulated, worker: this.workerId }, 'took over host');
    await this.jobs.enqueue('host.sweep', { hostId }, { hostId, resourceKey: `sweep-${hostId}` });
  }

  private async drop(hostId: string, why: string): Promise<void> {
    const runtime = this.owned.get(hostId);
    this.owned.delete(hostId);
    this.validUntil.delete(hostId);
    // The connection goes first: jobs still running on the host fail at their next call and are
    // retried by the new holder, rather than finishing on a host this worker no longer holds.
    await runtime?.close();
    // The queue's consumer closes in the background: it may wait for Redis to come back and for
    // its running jobs to end, and a round that waited for it would renew no other lease meanwhile.
    const closed: Promise<void> = this.runner
      .stopQueue(hostQueueName(hostId))
      .catch((err: unknown) => this.logger.warn({ hostId, err: (err as Error).message }, 'cannot close host queue'))
      .finally(() => this.closing.delete(closed));
    this.closing.add(closed);
    this.logger.info({ hostId, why }, 'gave up host');
  }

  private async enqueueSweeps(): Promise<void> {
    for (const hostId of this.owned.keys()) {
      await this.jobs
        .enqueue('host.sweep', { hostId }, { hostId, resourceKey: `sweep-${hostId}` })
        .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'cannot enqueue sweep'));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    // Only a worker that started holds leases (the API process never does): nothing to give back.
    if (!this.timer) return;
    clearInterval(this.timer);
    clearInterval(this.sweepTimer);
    for (const hostId of [...this.owned.keys()]) {
      await this.drop(hostId, 'shutting down');
      await this.redis.eval(RELEASE, 1, this.key('lease', hostId), this.workerId).catch(() => undefined);
    }
    await this.redis.del(this.key('worker', this.workerId)).catch(() => undefined);
    await Promise.all([...this.closing]);
  }
}

/** The host names a worker heartbeat pins its worker to; null for a worker that takes any host. */
function pinnedTo(heartbeat: string): string[] | null {
  if (!heartbeat.startsWith('{')) return null;
  try {
    const hosts = (JSON.parse(heartbeat) as { hosts?: unknown }).hosts;
    return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string') : null;
  } catch {
    return null;
  }
}
