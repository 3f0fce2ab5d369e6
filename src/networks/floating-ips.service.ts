import { Injectable, type OnModuleInit } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { IdempotencyEffects } from '../common/idempotency-effects.js';
import { CURSOR_SHAPE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import { JobQueue } from '../jobs/job-types.js';
import { QuotaService } from '../tenants/quota.service.js';
import { broadcast, formatCidr, formatIpv4, parseCidr, parseIpv4 } from '../common/cidr.js';
import { FloatingIpsRepository } from './floating-ips.repository.js';
import type { FloatingIpEntity } from './network.entities.js';
import { VpcsRepository } from './vpcs.repository.js';
import {
  type FloatingIpRangeResponse,
  type FloatingIpResponse,
  toFloatingIpResponse,
  toRangeResponse,
} from './networks.dto.js';

/** Ranges larger than this are almost certainly a typo (a /16 is 65,536 addresses). */
const MAX_RANGE_SIZE = 65536;

@Injectable()
export class FloatingIpsService implements OnModuleInit {
  constructor(
    private readonly db: Database,
    private readonly ips: FloatingIpsRepository,
    private readonly quotas: QuotaService,
    private readonly idempotency: IdempotencyEffects,
    private readonly vpcs: VpcsRepository,
    private readonly jobs: JobQueue,
  ) {}

  onModuleInit(): void {
    this.quotas.registerUsageSource(async (tx, tenantId) => ({
      maxFloatingIps: await this.ips.countForTenant(tenantId, tx),
    }));
  }

  async addRange(body: { cidr?: string; start?: string; end?: string }): Promise<FloatingIpRangeResponse> {
    let start: number;
    let end: number;
    let cidr: string | null = null;
    let provider: { network: number; prefix: number };
    if (body.cidr !== undefined) {
      if (body.start !== undefined || body.end !== undefined) {
        throw DomainError.validation('cidr', 'give either cidr, or start and end, not both');
      }
      const parsed = parseCidr(body.cidr);
      if (!parsed.ok) throw DomainError.validation('cidr', parsed.problem);
      if (parsed.cidr.prefix < 16 || parsed.cidr.prefix > 29)
        throw DomainError.validation('cidr', 'a floating-IP range is /16 to /29');
      cidr = formatCidr(parsed.cidr);
      provider = parsed.cidr;
      // Not handed out: the network address, the first address (the hosts' gateway on the
      // provider network) and the broadcast address.
      start = parsed.cidr.network + 2;
      end = broadcast(parsed.cidr) - 1;
    } else {
      if (body.start === undefined || body.end === undefined) {
        throw DomainError.validation(body.start === undefined ? 'start' : 'end', 'give a cidr, or both start and end');
      }
      const s = parseIpv4(body.start);
      const e = parseIpv4(body.end);
      if (s === undefined) throw DomainError.validation('start', `"${body.start}" is not an IPv4 address`);
      if (e === undefined) throw DomainError.validation('end', `"${body.end}" is not an IPv4 address`);
      if (e < s) throw DomainError.validation('end', 'must not come before start');
      // A start-end range lives in the /24 that holds it; that /24's .1 is the provider gateway.
      provider = { network: (s & 0xffffff00) >>> 0, prefix: 24 };
      if (e > provider.network + 254) throw DomainError.validation('end', 'a start-end range must stay within one /24');
      if (s <= provider.network + 1)
        throw DomainError.validation(
          'start',
          `must be above ${formatIpv4(provider.network + 1)}, the provider gateway`,
        );
      start = s;
      end = e;
    }
    if (end - start + 1 > MAX_RANGE_SIZE)
      throw DomainError.validation('cidr', `a range holds at most ${MAX_RANGE_SIZE} addresses`);
    const range = await this.db.transaction(async (tx) => {
      await this.ips.lockAddressSpace(tx);
      const clash = await this.ips.overlappingRanges(tx, formatIpv4(start), formatIpv4(end));
      if (clash.length > 0) {
        throw DomainError.conflict(`range overlaps the existing range ${clash[0].startAddress}-${clash[0].endAddress}`);
      }
      // Its provider network would shadow tenants' VPC addresses on the routers that reach it.
      const vpcs = await this.vpcs.countOverlappingAny(tx, formatCidr(provider));
      if (vpcs > 0) {
        throw DomainError.unprocessable(
          `the range's provider network ${formatCidr(provider)} overlaps ${vpcs} tenant VPC(s); choose a range no VPC uses`,
          { field: body.cidr !== undefined ? 'cidr' : 'start', vpcs },
        );
      }
      return this.ips.insertRange(tx, {
        startAddress: formatIpv4(start),
        endAddress: formatIpv4(end),
        cidr,
        providerCidr: formatCidr(provider),
        gateway: formatIpv4(provider.network + 1),
      });
    });
    const listed = (await this.ips.listRanges()).find((r) => r.id === range.id);
    return toRangeResponse(listed!);
  }

  async listRanges(): Promise<FloatingIpRangeResponse[]> {
    return (await this.ips.listRanges()).map(toRangeResponse);
  }

  async removeRange(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.ips.lockAddressSpace(tx);
      const range = await this.ips.findRange(id);
      if (!range) throw DomainError.notFound('floating-IP range', id);
      const used = await this.ips.countInRange(tx, id);
      if (used > 0) throw DomainError.conflict(`range still has ${used} allocated address(es)`);
      // VPC routers' addresses are the platform's: they move to another range on the routers' next pass.
      await this.ips.removeRouterAddresses(tx, id);
      await this.ips.removeRange(tx, id);
    });
    await this.jobs.nudge('network.collect', {}, { resourceKey: 'network-collect' });
  }

  async allocate(auth: AuthContext): Promise<FloatingIpResponse> {
    const tenantId = tenantOf(auth);
    const ip = await this.db.transaction(async (tx) => {
      // The retry of a request whose address was allocated before its answer was lost: that one.
      const made = await this.idempotency.previous(tx, 'floating-ip');
      if (made) {
        const earlier = await this.ips.findForTenant(tenantId, made, tx);
        if (!earlier) throw DomainError.conflict(`the floating IP this request allocated (${made}) is gone since`);
        return earlier;
      }
      // The address space before the tenant's row (the quota): a VPC router's allocation holds
      // the first and then locks the second (its insert names the tenant). One order, no deadlock.
      await this.ips.lockAddressSpace(tx);
      await this.quotas.reserve(tx, tenantId, { maxFloatingIps: 1 });
      const allocated = await this.ips.allocate(tx, tenantId);
      if (!allocated) throw DomainError.unprocessable('no free floating IP address: ask the operator to add a range');
      await this.idempotency.record(tx, 'floating-ip', allocated.id);
      return allocated;
    });
    return toFloatingIpResponse(ip);
  }

  async get(auth: AuthContext, id: string): Promise<FloatingIpResponse> {
    const ip = await this.ips.findForTenant(tenantOf(auth), id);
    if (!ip) throw DomainError.notFound('floating IP', id);
    return toFloatingIpResponse(ip);
  }

  async list(auth: AuthContext, limit = 100, cursor?: string): Promise<Page<FloatingIpResponse>> {
    const after = decodeCursor(cursor, ['id'], { id: CURSOR_SHAPE.uuid });
    const rows = await this.ips.list(tenantOf(auth), limit + 1, after?.id);
    return toPage(rows, limit, toFloatingIpResponse, (f) => ({ id: f.id }));
  }

  async release(auth: AuthContext, id: string): Promise<void> {
    const tenantId = tenantOf(auth);
    await this.db.transaction(async (tx) => {
      const ip = await this.ips.lockForTenant(tx, tenantId, id);
      if (!ip) throw DomainError.notFound('floating IP', id);
      if (ip.clusterId)
        throw DomainError.conflict(`floating IP ${ip.address} is associated with cluster ${ip.clusterId}`);
      await this.ips.remove(tx, id);
    });
  }

  /** Used by clusters, in their own transaction: the address must be the tenant's and free. */
  async associate(tx: Tx, tenantId: string, id: string, clusterId: string): Promise<FloatingIpEntity> {
    const ip = await this.ips.lockForTenant(tx, tenantId, id);
    if (!ip) throw DomainError.notFound('floating IP', id);
    if (ip.clusterId && ip.clusterId !== clusterId) {
      throw DomainError.conflict(`floating IP ${ip.address} is already associated with cluster ${ip.clusterId}`);
    }
    await this.ips.setCluster(tx, id, clusterId);
    return { ...ip, clusterId };
  }

  async disassociate(tx: Tx, tenantId: string, id: string): Promise<void> {
    const ip = await this.ips.lockForTenant(tx, tenantId, id);
    if (ip) await this.ips.setCluster(tx, id, null);
  }
}
