import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { HostEntity, ImageEntity } from './host.entity.js';

@Injectable()
export class HostsRepository {
  constructor(private readonly db: Database) {}

  private repo(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(HostEntity);
  }

  private images(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(ImageEntity);
  }

  insert(
    row: Omit<HostEntity, 'id' | 'createdAt' | 'lastSeenAt' | 'lastError' | 'drained' | 'chassis' | 'diskGiB'> & {
      chassis?: string | null;
      diskGiB?: number | null;
    },
  ): Promise<HostEntity> {
    return this.repo().save(
      this.repo().create({ chassis: null, diskGiB: null, ...row, drained: false, lastSeenAt: null, lastError: null }),
    );
  }

  findById(id: string, tx?: Tx): Promise<HostEntity | null> {
    return this.repo(tx).findOneBy({ id });
  }

  list(tx?: Tx): Promise<HostEntity[]> {
    return this.repo(tx).find({ order: { name: 'ASC' } });
  }

  count(): Promise<number> {
    return this.repo().count();
  }

  lock(tx: Tx, id: string): Promise<HostEntity | null> {
    return this.repo(tx).createQueryBuilder('h').setLock('pessimistic_write').where('h.id = :id', { id }).getOne();
  }

  async remove(tx: Tx, id: string): Promise<void> {
    await this.repo(tx).delete({ id });
  }

  async update(id: string, patch: Partial<HostEntity>, tx?: Tx): Promise<void> {
    await this.repo(tx).update({ id }, patch);
  }

  insertImage(tx: Tx, row: Omit<ImageEntity, 'id' | 'createdAt'>): Promise<ImageEntity> {
    return this.images(tx).save(this.images(tx).create(row));
  }

  async clearDefaultImage(tx: Tx): Promise<void> {
    await this.images(tx).update({ isDefault: true }, { isDefault: false });
  }

  listImages(): Promise<ImageEntity[]> {
    return this.images().find({ order: { name: 'ASC' } });
  }

  defaultImage(tx?: Tx): Promise<ImageEntity | null> {
    return this.images(tx).findOneBy({ isDefault: true });
  }

  findImage(id: string, tx?: Tx): Promise<ImageEntity | null> {
    return this.images(tx).findOneBy({ id });
  }

  findImageByName(name: string, tx?: Tx): Promise<ImageEntity | null> {
    return this.images(tx).findOneBy({ name });
  }
}
