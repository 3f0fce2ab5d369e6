import { Inject, Injectable } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Database, isUniqueViolation, type Tx } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { decodeCursor, toPage, type Page } from '../common/pagination.js';
import { APP_CONFIG } from '../common/tokens.js';
import { JobQueue } from '../jobs/job-types.js';
import type { AppConfig } from '../config/config.js';
import { formatCidr, formatIpv4, overlaps, parseCidr, validateVpcCidr, vpcHostRange } from '../common/cidr.js';
import { FloatingIpsRepository } from './floating-ips.repository.js';
import { type AllocationRange, IpamRepository, type Owner } from './ipam.repository.js';
import { toVpcResponse, type VpcResponse } from './networks.dto.js';
import { VpcsRepository } from './vpcs.repository.js';

/** Checks a VPC can be deleted; modules holding references to VPCs register one. */
export type VpcInUseCheck = (tx: Tx, vpcId: string) => Promise<string | undefined>;

@Injectable()
export class VpcsService {
  private readonly inUseChecks: VpcInUseCheck[] = [];
  /** VPCs' CIDRs by id, as allocations found them (a CIDR never changes). */
  private readonly cidrs = new Map<string, string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: Database,
    private readonly vpcs: VpcsRepository,
    private readonly ipam: IpamRepository,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly jobs: JobQueue,
  ) {}

  registerInUseCheck(check: VpcInUseCheck): void {
    this.inUseChecks.push(check);
  }

  async create(auth: AuthContext, name: string, cidrText: string): Promise<VpcResponse> {
    const tenantId = tenantOf(auth);
    const parsed = validateVpcCidr(cidrText);
    if (!parsed.ok) throw DomainError.validation('cidr', parsed.problem);
    const cidr = formatCidr(parsed.cidr);
    const reserved = this.config.reservedCidrs.find((r) => {
      const range = parseCidr(r);
      return range.ok && overlaps(range.cidr, parsed.cidr);
    });
    if (reserved)
      throw DomainError.unprocessable(`cidr ${cidr} overlaps the reserved range ${reserved}`, {
        field: 'cidr',
        reserved,
      });
    try {
      const vpc = await this.db.transaction(async (tx) => {
        // The floating-IP ranges cannot change meanwhile: a new range checks the VPCs under this lock.
        await this.floatingIps.lockAddressSpace(tx);
        const provider = await this.floatingIps.rangesOnNetwork(tx, cidr);
        if (provider.length > 0) {
          const r = provider[0];
          throw DomainError.unprocessable(
            `cidr ${cidr} overlaps the floating-IP range ${r.startAddress}-${r.endAddress} (provider network ${r.providerCidr})`,
            { field: 'cidr', floatingIpRange: { start: r.startAddress, end: r.endAddress, network: r.providerCidr } },
          );
        }
        const clash = await this.vpcs.overlapping(tx, tenantId, cidr);
        if (clash.length > 0) {
          throw DomainError.conflict(`cidr ${cidr} overlaps VPC "${clash[0].name}" (${clash[0].cidr})`, {
            field: 'cidr',
            overlaps: clash.map((v) => ({ id: v.id, name: v.name, cidr: v.cidr })),
          });
        }
        const gateway = formatIpv4(vpcHostRange(parsed.cidr).gateway);
        return this.vpcs.insert(tx, { tenantId, name, cidr, gateway });
      });
      return toVpcResponse(vpc);
    } catch (err) {
      if (isUniqueViolation(err, 'uq_vpcs_tenant_name'))
        throw DomainError.conflict(`a VPC named "${name}" already exists`);
      if ((err as { driverError?: { code?: string } }).driverError?.code === '23P01') {
        throw DomainError.conflict(`cidr ${cidr} overlaps another VPC of this tenant`);
      }
      throw err;
    }
  }

  async get(auth: AuthContext, id: string): Promise<VpcResponse> {
    const vpc = await this.vpcs.findForTenant(tenantOf(auth), id);
    if (!vpc) throw DomainError.notFound('VPC', id);
    return toVpcResponse(vpc);
  }

  async list(auth: AuthContext, limit = 100, cursor?: string, name?: string): Promise<Page<VpcResponse>> {
    const after = decodeCursor(cursor, ['name']);
    const rows = await this.vpcs.list(tenantOf(auth), limit + 1, after?.name, name);
    return toPage(rows, limit, toVpcResponse, (v) => ({ name: v.name }));
  }

  async remove(auth: AuthContext, id: string): Promise<void> {
    const tenantId = tenantOf(auth);
    await this.db.transaction(async (tx) => {
      const vpc = await this.vpcs.lockForTenant(tx, tenantId, id);
      if (!vpc) throw DomainError.notFound('VPC', id);
      const inUse = await this.ipam.countInUse(tx, id);
      if (inUse > 0) throw DomainError.conflict(`VPC "${vpc.name}" still has ${inUse} address(es) in use`);
      for (const check of this.inUseChecks) {
        const reason = await check(tx, id);
        if (reason) throw DomainError.conflict(`VPC "${vpc.name}" is in use: ${reason}`);
      }
      await this.vpcs.remove(tx, id);
    });
    // Its switch, router and gateway in OVN go with the next collection, queued now.
    await this.jobs.nudge('network.collect', {}, { resourceKey: 'network-collect' });
  }

  /**
   * Hands the owner an address of the VPC. Allocators of one VPC run side by side, each taking a
   * different row of its free list; holding the VPC row (`FOR KEY SHARE`) keeps a deletion out
   * meanwhile. The unique constraint on (vpc, address) is what makes a double hand-out impossible.
   */
  async allocateAddress(tx: Tx, tenantId: string, vpcId: string, owner: Owner): Promise<string> {
    // A VPC's CIDR never changes: once known, the hold and the first take go in one statement.
    const known = this.cidrs.get(vpcId);
    const held = known
      ? await this.ipam.holdAndTake(tx, tenantId, vpcId, allocationRange(known), owner)
      : await this.vpcs.holdForAllocation(tx, tenantId, vpcId);
    if (!held) throw DomainError.notFound('VPC', vpcId);
    if (!known) {
      if (this.cidrs.size >= 10000) this.cidrs.clear();
      this.cidrs.set(vpcId, held.cidr);
    }
    const address = await this.ipam.allocate(
      tx,
      vpcId,
      allocationRange(held.cidr),
      held.freeListCursor,
      owner,
      this.config.ipQuarantineSeconds,
      (held as { address?: string }).address,
    );
    if (!address) {
      throw DomainError.unprocessable(`VPC "${held.name}" (${held.cidr}) has no free address`, {
        vpc: held.name,
        cidr: held.cidr,
      });
    }
    return address;
  }

  releaseAddresses(tx: Tx | undefined, ownerId: string): Promise<number> {
    return this.ipam.release(tx, ownerId);
  }
}

/** The addresses of a VPC that go to owners: its host range but the last address, from which the load balancers' health checks come. */
function allocationRange(cidr: string): AllocationRange {
  const parsed = parseCidr(cidr);
  if (!parsed.ok) throw new Error(`stored VPC cidr ${cidr} is invalid`);
  const range = vpcHostRange(parsed.cidr);
  return { network: parsed.cidr.network, first: range.first, last: range.last - 1 };
}
