import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import { ReadinessRegistry } from '../platform/readiness.registry.js';
import { HostsRepository } from './hosts.repository.js';

/**
 * /readyz reports how many hosts are connected (no names: the route is open). The connection lives
 * in the worker holding the host's lease, which records what it sees (state, last contact); a
 * host is connected when its connection is up and was heard from within three sweep intervals.
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
      const connected = hosts.filter(
        (h) => h.state === 'Ready' && h.lastSeenAt !== null && Date.now() - h.lastSeenAt.getTime() < staleAfterMs,
      ).length;
      const counts = { total: hosts.length, connected };
      if (connected < hosts.length) throw Object.assign(new Error('a host is not connected'), { counts });
      return counts;
    });
  }
}
