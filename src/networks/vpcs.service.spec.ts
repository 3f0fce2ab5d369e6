import { describe, expect, it } from '@jest/globals';
import type { Database, Tx } from '../common/database.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { AppConfig } from '../config/config.js';
import type { JobQueue } from '../jobs/job-types.js';
import type { FloatingIpsRepository } from './floating-ips.repository.js';
import type { AllocationRange, IpamRepository, Owner } from './ipam.repository.js';
import type { VpcEntity } from './network.entities.js';
import type { VpcsRepository } from './vpcs.repository.js';
import { VpcsService } from './vpcs.service.js';

const vpc = {
  id: 'v1',
  tenantId: 't1',
  name: 'net',
  cidr: '10.60.0.0/28',
  gateway: '10.60.0.1',
  state: 'Ready',
  freeListCursor: 7,
  createdAt: new Date(0),
} as VpcEntity;

function setup(answer: string | undefined) {
  const calls: { range: AllocationRange; cursor: number; owner: Owner; quarantine: number }[] = [];
  const held: string[] = [];
  const vpcs = {
    holdForAllocation: async (_tx: Tx, tenantId: string, id: string) => {
      held.push(`${tenantId}/${id}`);
      return tenantId === vpc.tenantId && id === vpc.id ? vpc : null;
    },
  } as unknown as VpcsRepository;
  const ipam = {
    allocate: async (_tx: Tx, _vpcId: string, range: AllocationRange, cursor: number, owner: Owner, q: number) => {
      calls.push({ range, cursor, owner, quarantine: q });
      return answer;
    },
  } as unknown as IpamRepository;
  const config = { ipQuarantineSeconds: 300, reservedCidrs: [] } as unknown as AppConfig;
  const service = new VpcsService(config, {} as Database, vpcs, ipam, {} as FloatingIpsRepository, {} as JobQueue);
  return { service, calls, held };
}

describe('VpcsService.allocateAddress', () => {
  it('holds the VPC and asks for its node range without the last host address', async () => {
    const { service, calls, held } = setup('10.60.0.5');
    const owner = { kind: 'node', id: 'n1' };
    expect(await service.allocateAddress({} as Tx, 't1', 'v1', owner)).toBe('10.60.0.5');
    expect(held).toEqual(['t1/v1']);
    // 10.60.0.0/28: .1 is the gateway, .14 the health-check source, .15 the broadcast.
    const network = 10 * 2 ** 24 + 60 * 2 ** 16;
    expect(calls).toEqual([
      { range: { network, first: network + 2, last: network + 13 }, cursor: 7, owner, quarantine: 300 },
    ]);
  });

  it('answers 422 naming the VPC when it has no free address', async () => {
    const { service } = setup(undefined);
    const err = await service.allocateAddress({} as Tx, 't1', 'v1', { kind: 'node', id: 'n1' }).catch((e) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(ErrorCode.Unprocessable);
    expect((err as DomainError).message).toBe('VPC "net" (10.60.0.0/28) has no free address');
    expect((err as DomainError).details).toEqual({ vpc: 'net', cidr: '10.60.0.0/28' });
  });

  it("answers 404 for another tenant's VPC without allocating", async () => {
    const { service, calls } = setup('10.60.0.5');
    await expect(service.allocateAddress({} as Tx, 't2', 'v1', { kind: 'node', id: 'n1' })).rejects.toThrow(
      /VPC v1 not found/,
    );
    expect(calls).toEqual([]);
  });
});
