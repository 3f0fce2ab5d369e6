import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import { ReadinessRegistry } from '../platform/readiness.registry.js';
import { HostsRepository } from './hosts.repository.js';

/**
 * /readyz reports every host's libvirt connection. The connection lives in the worker holding
 * the host's lease, which records what it sees (state, last contact); a host is ready when its
 * connection is up and was heard from within three sweep intervals.
 */
@Injectable()
export class HostsReadiness implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly readiness: ReadinessRegistry,
    private readonly hosts: HostsRepository,
  ) {}

  onModuleInit(): void {
    this.readiness.add('hosts', async () => {
      const hosts = await this.hosts.list();
      const staleAfterMs = Math.max(30, 3 * this.config.healthIntervalSeconds) * 1000;
      const report = hosts.map((h) => {
        const fresh = h.lastSeenAt !== null && Date.now() - h.lastSeenAt.getTime() < staleAfterMs;
        return {
          name: h.name,
          simulated: h.simulated,
          state: h.state,
          connected: h.state === 'Ready' && fresh,
          lastSeenAt: h.lastSeenAt?.toISOString() ?? null,
          ...(h.lastError ? { error: h.lastError } : {}),
        };
      });
      const down = report.filter((h) => !h.connected);
      if (down.length > 0)
        throw Object.assign(new Error(`not connected: ${down.map((h) => h.name).join(', ')}`), { hosts: report });
      return { hosts: report };
    });
  }
}
