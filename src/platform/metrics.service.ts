import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobQueue } from '../jobs/job-types.js';

/**
 * Node.js default gauges named like counters: each is the sum of its unsuffixed twin's series
 * (`kaas_nodejs_active_handles` per resource type), so nothing is lost without them.
 */
const GAUGES_NAMED_TOTAL = [
  'kaas_nodejs_active_handles_total',
  'kaas_nodejs_active_requests_total',
  'kaas_nodejs_active_resources_total',
];

/** Something that serves these metrics outside Nest (a worker's own port), closed with the application. */
/** A gauge read at scrape time: name, help and labels. */
export interface ScrapedGauge {
  name: string;
  help: string;
  labelNames: string[];
}

/**
 * Gauges filled together at scrape time from one read: prom-client collects each gauge in turn,
 * and the first collect of a scrape runs `fill` once for all of them.
 */
export function gaugesFilledTogether<K extends string>(
  registry: Registry,
  specs: Record<K, ScrapedGauge>,
  fill: (gauges: Record<K, Gauge>) => Promise<void>,
): Record<K, Gauge> {
  let filling: Promise<void> | undefined;
  const collect = (): Promise<void> =>
    (filling ??= fill(gauges).finally(() => setTimeout(() => (filling = undefined), 0)));
  const gauges = Object.fromEntries(
    Object.entries<ScrapedGauge>(specs).map(([key, spec]) => [
      key,
      new Gauge({ ...spec, registers: [registry], collect }),
    ]),
  ) as Record<K, Gauge>;
  return gauges;
}

export interface MetricsEndpoint {
  close(): Promise<void>;
}

/**
 * The Prometheus registries of this process; other modules add their own metrics to them.
 *
 * `registry` holds what this process measures itself (requests, jobs, sweeps, hypervisor and OVN
 * calls, queue depth): the API serves it on /metrics, a worker on its own port. `fleetRegistry`
 * holds what is read from the shared database at scrape time (clusters, nodes and hosts per phase
 * or state, usage): it is the same in every process, so only the API serves it and a worker never
 * pays for its queries.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  readonly fleetRegistry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly queueDepth: Gauge<'queue' | 'state'>;
  private readonly endpoints = new Set<MetricsEndpoint>();

  constructor(private readonly jobs: JobQueue) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kaas_' });
    for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    this.httpRequests = new Counter({
      name: 'kaas_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: 'kaas_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.queueDepth = new Gauge({
      name: 'kaas_queue_jobs',
      help: 'Jobs per shared queue and state (the same figure from every process that serves it)',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      collect: async () => {
        try {
          const counts = await this.jobs.counts();
          for (const [queue, states] of Object.entries(counts)) {
            for (const [state, n] of Object.entries(states)) this.queueDepth.set({ queue, state }, n);
          }
        } catch {
          // Redis unavailable: keep the last values; /readyz reports the outage.
        }
      },
    });
  }

  /** What the API's /metrics serves: this process's figures and the fleet's. */
  async metrics(): Promise<string> {
    return Registry.merge([this.registry, this.fleetRegistry]).metrics();
  }

  /** What a worker's own port serves: this process's figures only. */
  processMetrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The endpoint is closed when the application is (before the queues and the database go). */
  closeWithApplication(endpoint: MetricsEndpoint): void {
    this.endpoints.add(endpoint);
  }

  async onModuleDestroy(): Promise<void> {
    const endpoints = [...this.endpoints];
    this.endpoints.clear();
    await Promise.all(endpoints.map((e) => e.close()));
  }
}
