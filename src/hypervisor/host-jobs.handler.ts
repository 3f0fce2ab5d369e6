import { Injectable } from '@nestjs/common';
import { type JobPayloads } from '../jobs/job-types.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import type { HostInventory } from './backends/index.js';
import { HostLeases } from './host-leases.service.js';
import { libvirtNames } from './xml/names.js';

/** Jobs on one host that need its backend and nothing of the platform's records. */
@Injectable()
export class HostJobsHandler {
  constructor(private readonly leases: HostLeases) {}

  /** What the host holds (`GET /v1/hosts/:id/inventory`), for audits and tests. */
  @OnJob('host.inventory')
  async inventory(payload: JobPayloads['host.inventory']): Promise<HostInventory> {
    const backend = this.leases.runtime(payload.hostId)?.backend;
    if (!backend) throw new Error(`host ${payload.hostId} is not connected in this worker`);
    return backend.inventory();
  }

  /** An injected fault (`kaasctl hosts fault`), on hosts whose backend takes them. */
  @OnJob('host.fault')
  async fault(payload: JobPayloads['host.fault']): Promise<{ applied: boolean }> {
    const runtime = this.leases.runtime(payload.hostId);
    if (payload.fault === 'unreachable' || payload.fault === 'reachable') {
      if (!runtime) throw new Error(`host ${payload.hostId} is not held by this worker`);
      return { applied: await runtime.partition(payload.fault === 'unreachable') };
    }
    const faults = runtime?.backend?.faults;
    if (!runtime?.backend || !faults)
      throw new Error(`host ${payload.hostId} is not held by this worker or takes no injected faults`);
    if (!payload.nodeId) throw new Error(`fault ${payload.fault} needs a node`);
    const domain = libvirtNames.domain(payload.nodeId);
    if (payload.fault === 'cpu-load') {
      const vcpus = (await runtime.backend.domainStats(domain))?.vcpus ?? 1;
      return { applied: faults.setCpuLoad(domain, payload.cpuPercent ?? 0, vcpus) };
    }
    if (payload.fault === 'crash') {
      await faults.crash(domain);
      return { applied: true };
    }
    return { applied: faults.injectGuestFault(domain, payload.fault) };
  }
}
