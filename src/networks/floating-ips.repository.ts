import { Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import { Database, type Tx } from '../common/database.js';
import { FloatingIpEntity, FloatingIpRangeEntity } from './network.entities.js';

export interface RangeWithCounts extends FloatingIpRangeEntity {
  total: number;
  used: number;
}

/** Lock key serializing floating-IP allocation across all ranges (they form one address space). */
const FLOATING_IP_LOCK = 7_105_001;

@Injectable()
export class FloatingIpsRepository {
  constructor(private readonly db: Database) {}

  private ips(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(FloatingIpEntity);
  }

  private ranges(tx?: Tx) {
    return (tx ?? this.db.manager).getRepository(FloatingIpRangeEntity);
  }

  async lockAddressSpace(tx: Tx): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [FLOATING_IP_LOCK]);
  }

  /** Ranges whose provider network overlaps the CIDR (a VPC must not). */
  rangesOnNetwork(tx: Tx, cidr: string): Promise<FloatingIpRangeEntity[]> {
    return this.ranges(tx)
      .createQueryBuilder('r')
      .where('r.provider_cidr && CAST(:cidr AS cidr)', { cidr })
      .orderBy('r.start_address')
      .getMany();
  }

  async overlappingRanges(tx: Tx, start: string, end: string): Promise<FloatingIpRangeEntity[]> {
    return this.ranges(tx)
      .createQueryBuilder('r')
      .where('r.start_address <= CAST(:end AS inet) AND r.end_address >= CAST(:start AS inet)', { start, end })
      .getMany();
  }

  insertRange(
    tx: Tx,
    row: Pick<FloatingIpRangeEntity, 'startAddress' | 'endAddress' | 'cidr' | 'providerCidr' | 'gateway'>,
  ): Promise<FloatingIpRangeEntity> {
    return this.ranges(tx).save(this.ranges(tx).create(row));
  }

  async listRanges(): Promise<RangeWithCounts[]> {
    const rows: (FloatingIpRangeEntity & { total: string; used: string })[] = await this.db.manager.query(
      `SELECT r.id, host(r.start_address) AS "startAddress", host(r.end_address) AS "endAddress",
              r.cidr::text AS cidr, r.provider_cidr::text AS "providerCidr", host(r.gateway) AS gateway,
              r.created_at AS "createdAt",
              (r.end_address - r.start_address + 1) AS total,
              (SELECT count(*) FROM floating_ips f WHERE f.range_id = r.id) AS used
         FROM floating_ip_ranges r ORDER BY r.start_address`,
    );
    return rows.map((r) => ({ ...r, total: Number(r.total), used: Number(r.used) }));
  }

  findRange(id: string): Promise<FloatingIpRangeEntity | null> {
    return this.ranges().findOneBy({ id });
  }

  async removeRange(tx: Tx, id: string): Promise<void> {
    await this.ranges(tx).delete({ id });
  }

  /** Tenants' addresses in the range (VPC routers' are not counted). */
  async countInRange(tx: Tx, rangeId: string): Promise<number> {
    return this.ips(tx).countBy({ rangeId, vpcId: IsNull() });
  }

  async removeRouterAddresses(tx: Tx, rangeId: string): Promise<void> {
    await tx.query(`DELETE FROM floating_ips WHERE range_id = $1 AND vpc_id IS NOT NULL`, [rangeId]);
  }

  /**
   * Takes the lowest free address of any range (or of the ranges on one provider network); call
   * with the address space locked. With `vpcId`, the address is that VPC's router's.
   */
  async allocate(
    tx: Tx,
    tenantId: string,
    options: { vpcId?: string; providerCidr?: string } = {},
  ): Promise<FloatingIpEntity | undefined> {
    const rows: { id: string }[] = await tx.query(
      `INSERT INTO floating_ips (tenant_id, range_id, address, vpc_id)
       SELECT $1, r.id, r.start_address + s.o, $2::uuid
         FROM floating_ip_ranges r
         CROSS JOIN LATERAL generate_series(0::bigint, r.end_address - r.start_address) AS s(o)
        WHERE NOT EXISTS (SELECT 1 FROM floating_ips f WHERE f.address = r.start_address + s.o)
          AND ($3::cidr IS NULL OR r.provider_cidr = $3::cidr)
        ORDER BY r.start_address, s.o
        LIMIT 1
       RETURNING id`,
      [tenantId, options.vpcId ?? null, options.providerCidr ?? null],
    );
    return rows[0] ? ((await this.ips(tx).findOneBy({ id: rows[0].id })) ?? undefined) : undefined;
  }

  /** A tenant's floating IP (never a VPC router's address). */
  findForTenant(tenantId: string, id: string | null, tx?: Tx): Promise<FloatingIpEntity | null> {
    if (id === null) return Promise.resolve(null);
    return this.ips(tx).findOneBy({ tenantId, id, vpcId: IsNull() });
  }

  /**
   * The provider network of the VPC's router when the floating IP is on another one (its
   * endpoint could not be built: a VPC's router sits on one provider network); else undefined.
   */
  async otherProviderNetwork(tx: Tx, vpcId: string, fip: FloatingIpEntity): Promise<string | undefined> {
    const rows: { router: string; wanted: string }[] = await tx.query(
      `SELECT rr.provider_cidr::text AS router, fr.provider_cidr::text AS wanted
         FROM floating_ips r
         JOIN floating_ip_ranges rr ON rr.id = r.range_id
         JOIN floating_ip_ranges fr ON fr.id = $2
        WHERE r.vpc_id = $1`,
      [vpcId, fip.rangeId],
    );
    const row = rows[0];
    return row && row.router !== row.wanted ? row.router : undefined;
  }

  /** The address of a VPC's router on the provider network, if it has one. */
  routerAddressOf(vpcId: string, tx?: Tx): Promise<FloatingIpEntity | null> {
    return this.ips(tx).findOneBy({ vpcId });
  }

  lockForTenant(tx: Tx, tenantId: string, id: string): Promise<FloatingIpEntity | null> {
    return this.ips(tx)
      .createQueryBuilder('f')
      .setLock('pessimistic_write')
      .where('f.id = :id AND f.tenant_id = :tenantId AND f.vpc_id IS NULL', { id, tenantId })
      .getOne();
  }

  list(tenantId: string, limit: number, afterId?: string): Promise<FloatingIpEntity[]> {
    const qb = this.ips().createQueryBuilder('f').where('f.tenant_id = :tenantId AND f.vpc_id IS NULL', { tenantId });
    if (afterId !== undefined) qb.andWhere('f.id > :afterId', { afterId });
    return qb.orderBy('f.id', 'ASC').limit(limit).getMany();
  }

  async setCluster(tx: Tx, id: string, clusterId: string | null): Promise<void> {
    await this.ips(tx).update({ id }, { clusterId });
  }

  findRangeById(id: string, tx?: Tx): Promise<FloatingIpRangeEntity | null> {
    return this.ranges(tx).findOneBy({ id });
  }

  async remove(tx: Tx, id: string): Promise<void> {
    await this.ips(tx).delete({ id });
  }

  async countForTenant(tenantId: string, tx?: Tx): Promise<number> {
    return this.ips(tx).countBy({ tenantId, vpcId: IsNull() });
  }
}
