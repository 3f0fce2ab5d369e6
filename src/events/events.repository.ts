import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { EventEntity } from './event.entity.js';

@Injectable()
export class EventsRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(EventEntity);
  }

  async add(e: Omit<EventEntity, 'id' | 'createdAt'>, tx?: Tx): Promise<void> {
    await this.repo(tx).insert(e);
  }

  /** A cluster's events, newest first, before an event id (the page cursor). */
  forCluster(clusterId: string, limit: number, beforeId?: string): Promise<EventEntity[]> {
    const qb = this.repo().createQueryBuilder('e').where('e.cluster_id = :clusterId', { clusterId });
    if (beforeId !== undefined) qb.andWhere('e.id < :beforeId', { beforeId });
    return qb.orderBy('e.id', 'DESC').limit(limit).getMany();
  }

  async removeForCluster(tx: Tx, clusterId: string): Promise<void> {
    await this.repo(tx).delete({ clusterId });
  }
}
