import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../../common/tokens.js';
import type { AppConfig } from '../../../config/config.js';
import { ControlPlaneLeaver } from '../../../control-plane/control-plane-leaver.service.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

/** A node of a living cluster leaves its control plane before its VM goes; waiting looks again later. */
@Injectable()
export class LeavePhase implements NodePhaseStep {
  readonly name = 'leave';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly leaver: ControlPlaneLeaver,
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const { cluster } = scope;
    if (!cluster || cluster.deletingAt) return CONTINUE;
    if ((await this.leaver.leave(scope.node, cluster, scope.backend.kind)) === 'done') return CONTINUE;
    return { stop: true, requeueAfterMs: Math.max(this.config.requeueMs, 5000) };
  }
}
