import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Tx } from '../common/database.js';
import { APP_LOGGER } from '../common/tokens.js';
import { EventsRepository, type NewEvent } from './events.repository.js';

export interface EventTarget {
  tenantId: string;
  clusterId: string;
  nodeId?: string | null;
}

/** An event to record, with what it is about. */
export interface EventRecord {
  target: EventTarget;
  type: 'normal' | 'warning';
  reason: string;
  message: string;
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

  /** Several events in one statement, in order (their ids follow the order given). */
  async recordAll(events: EventRecord[], tx?: Tx): Promise<void> {
    if (events.length === 0) return;
    await this.events.addMany(this.rows(events), tx);
    this.logRecorded(events);
  }

  /**
   * The rows of these events, for a repository that writes them in the statement of another
   * write (a status patch); the caller logs them with `logRecorded` once they are.
   */
  rows(events: EventRecord[]): NewEvent[] {
    return events.map((e) => ({
      tenantId: e.target.tenantId,
      clusterId: e.target.clusterId,
      nodeId: e.target.nodeId ?? null,
      type: e.type === 'normal' ? 'Normal' : 'Warning',
      reason: e.reason,
      message: e.message.slice(0, 2000),
    }));
  }

  logRecorded(events: EventRecord[]): void {
    for (const e of events)
      this.logger[e.type === 'normal' ? 'info' : 'warn'](
        { clusterId: e.target.clusterId, nodeId: e.target.nodeId, reason: e.reason },
        e.message,
      );
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
