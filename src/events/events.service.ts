import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Tx } from '../common/database.js';
import { APP_LOGGER } from '../common/tokens.js';
import { EventsRepository } from './events.repository.js';

export interface EventTarget {
  tenantId: string;
  clusterId: string;
  nodeId?: string | null;
}

/** Events a tenant reads in GET /v1/clusters/:id/events; also logged for operators. */
@Injectable()
export class EventsService {
  constructor(
    private readonly events: EventsRepository,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  async normal(target: EventTarget, reason: string, message: string, tx?: Tx): Promise<void> {
    await this.record(target, 'Normal', reason, message, tx);
  }

  async warning(target: EventTarget, reason: string, message: string, tx?: Tx): Promise<void> {
    await this.record(target, 'Warning', reason, message, tx);
  }

  private async record(
    target: EventTarget,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    tx?: Tx,
  ): Promise<void> {
    await this.events.add(
      {
        tenantId: target.tenantId,
        clusterId: target.clusterId,
        nodeId: target.nodeId ?? null,
        type,
        reason,
        message: message.slice(0, 2000),
      },
      tx,
    );
    this.logger[type === 'Normal' ? 'info' : 'warn'](
      { clusterId: target.clusterId, nodeId: target.nodeId, reason },
      message,
    );
  }
}
