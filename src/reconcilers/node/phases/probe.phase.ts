import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../../common/tokens.js';
import type { AppConfig } from '../../../config/config.js';
import type { GuestStatus } from '../../../hypervisor/backends/index.js';
import type { NodePhase } from '../../../nodes/node.entity.js';
import type { NodePhaseStep, NodeScope, PhaseResult } from '../node-scope.js';

/** While the guest answers, its heartbeat is written at most this often by a booting node's passes. */
const HEARTBEAT_EVERY_MS = 5000;

/** Maps what the guest says to the node phase the tenant sees. */
export function phaseFromGuest(status: GuestStatus | undefined): NodePhase {
  if (!status) return 'Booting';
  if (status.ready) return 'Ready';
  if (status.stage === 'failed') return 'Failed';
  return status.stage === 'booting' ? 'Booting' : 'Joining';
}

/** Asks the running guest how far it got and moves the node's phase; comes back until it is Ready. */
@Injectable()
export class ProbePhase implements NodePhaseStep {
  readonly name = 'probe';

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const { node } = scope;
    const probe = await scope.backend.probeGuest({
      domainName: scope.names.domain,
      address: node.address,
      nodeId: node.id,
    });
    const next = phaseFromGuest(probe.answered ? probe.status : undefined);
    // The host's sweep writes heartbeats for running nodes; while a guest boots, its passes do.
    if (
      probe.answered &&
      (next !== scope.phase ||
        !node.lastHeartbeatAt ||
        Date.now() - node.lastHeartbeatAt.getTime() > HEARTBEAT_EVERY_MS)
    )
      scope.status.lastHeartbeatAt = new Date();
    scope.setPhase(
      next,
      probe.answered ? `Guest${probe.status.stage}` : 'GuestNotAnswering',
      probe.answered ? (probe.status.message ?? probe.status.stage) : probe.error,
    );
    return next === 'Ready' ? {} : { requeueAfterMs: this.config.requeueMs };
  }
}
