import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JobQueue } from '../jobs/job-types.js';

/** Prometheus registry of this process; other modules add their own metrics to it. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly queueDepth: Gauge<'queue' | 'state'>;

  constructor(private readonly jobs: JobQueue) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kaas_' });
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
      help: 'Jobs per queue and state',
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

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
