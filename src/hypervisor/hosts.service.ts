import { Injectable } from '@nestjs/common';
import { Database, isUniqueViolation, type Tx } from '../common/database.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { JobQueue } from '../jobs/job-types.js';
import type { HostInventory } from './backends/index.js';
import type { HostEntity } from './host.entity.js';
import { HostsRepository } from './hosts.repository.js';
import {
  type CreateHostRequest,
  type CreateImageRequest,
  type HostAllocation,
  type HostResponse,
  type ImageResponse,
  toHostResponse,
  toImageResponse,
} from './hosts.dto.js';
import { type HostFault, isSimulatedHostUri } from './hosts.dto.js';
import { LibvirtConnection } from './libvirt/index.js';

/** What runs on hosts, reported by the module that owns nodes. */
export interface HostAllocationSource {
  allocations(tx?: Tx): Promise<Map<string, HostAllocation>>;
}

const EMPTY: HostAllocation = { vcpus: 0, memoryMiB: 0, diskGiB: 0, nodes: 0 };

export async function probeHost(uri: string, timeoutMs: number): Promise<{ cpus: number; memoryMiB: number }> {
  let timer: NodeJS.Timeout | undefined;
  const opening = LibvirtConnection.open(uri);
  try {
    const conn = await Promise.race([
      opening,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    try {
      const info = await conn.getNodeInfo();
      return { cpus: info.cpus, memoryMiB: Math.floor(info.memoryKiB / 1024) };
    } finally {
      await conn.close();
    }
  } catch (err) {
    opening.then((c) => c.close()).catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

@Injectable()
export class HostsService {
  private allocationSource: HostAllocationSource = { allocations: async () => new Map() };

  constructor(
    private readonly db: Database,
    private readonly hosts: HostsRepository,
    private readonly jobs: JobQueue,
  ) {}

  setAllocationSource(source: HostAllocationSource): void {
    this.allocationSource = source;
  }

  async allocations(tx?: Tx): Promise<Map<string, HostAllocation>> {
    return this.allocationSource.allocations(tx);
  }

  async register(body: CreateHostRequest): Promise<HostResponse> {
    let capacity: { cpus: number; memoryMiB: number };
    try {
      capacity = await probeHost(body.uri, 10000);
    } catch (err) {
      throw DomainError.unprocessable(`cannot connect to ${body.uri}: ${(err as Error).message}`, { field: 'uri' });
    }
    try {
      const host = await this.hosts.insert({
        name: body.name,
        uri: body.uri,
        domainType: body.domainType,
        simulated: isSimulatedHostUri(body.uri),
        state: 'Pending',
        cpus: body.cpus ?? capacity.cpus,
        memoryMiB: body.memoryMiB ?? capacity.memoryMiB,
        chassis: body.chassis ?? null,
        diskGiB: body.diskGiB ?? null,
      });
      return toHostResponse(host, EMPTY);
    } catch (err) {
      if (isUniqueViolation(err, 'uq_hosts_name'))
        throw DomainError.conflict(`a host named "${body.name}" already exists`);
      if (isUniqueViolation(err, 'uq_hosts_uri'))
        throw DomainError.conflict(`a host with URI ${body.uri} already exists`);
      throw err;
    }
  }

  async list(): Promise<HostResponse[]> {
    const [hosts, allocations] = await Promise.all([this.hosts.list(), this.allocations()]);
    return hosts.map((h) => toHostResponse(h, allocations.get(h.id) ?? EMPTY));
  }

  async get(id: string): Promise<HostResponse> {
    const host = await this.mustFind(id);
    return toHostResponse(host, (await this.allocations()).get(id) ?? EMPTY);
  }

  async remove(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const host = await this.hosts.lock(tx, id);
      if (!host) throw DomainError.notFound('host', id);
      const used = (await this.allocations(tx)).get(id);
      if (used && used.nodes > 0)
        throw DomainError.conflict(`host "${host.name}" still runs ${used.nodes} node(s); drain it first`);
      await this.hosts.remove(tx, id);
    });
  }

  /** Stops new placements on the host; the health side moves its nodes off one at a time. */
  async drain(id: string): Promise<HostResponse> {
    await this.mustFind(id);
    await this.hosts.update(id, { drained: true });
    await this.jobs.enqueue('host.sweep', { hostId: id }, { hostId: id, resourceKey: `sweep-${id}` });
    return this.get(id);
  }

  async undrain(id: string): Promise<HostResponse> {
    await this.mustFind(id);
    await this.hosts.update(id, { drained: false });
    return this.get(id);
  }

  async injectFault(id: string, nodeId: string | undefined, fault: HostFault, cpuPercent?: number): Promise<void> {
    const host = await this.mustFind(id);
    if (!host.simulated)
      throw DomainError.unprocessable(
        `host "${host.name}" is not simulated; faults are only for hosts on libvirt's test driver (test:///… or test+unix://…)`,
      );
    await this.jobs.enqueue('host.fault', { hostId: id, nodeId: nodeId ?? null, fault, cpuPercent }, { hostId: id });
  }

  /** The libvirt objects on the host, asked of the worker that holds it. */
  async inventory(id: string): Promise<HostInventory> {
    const host = await this.mustFind(id);
    try {
      return (await this.jobs.runAndWait('host.inventory', { hostId: id }, id, 15000)) as HostInventory;
    } catch (err) {
      throw new DomainError(ErrorCode.Unavailable, `host "${host.name}" did not answer: ${(err as Error).message}`);
    }
  }

  async registerImage(body: CreateImageRequest): Promise<ImageResponse> {
    if (body.kind === 'kernel' && (!body.kernelPath || !body.initrdPath)) {
      throw DomainError.validation(
        body.kernelPath ? 'initrdPath' : 'kernelPath',
        'a kernel image needs kernelPath and initrdPath',
      );
    }
    if (body.kind === 'qcow2' && !body.diskPath)
      throw DomainError.validation('diskPath', 'a qcow2 image needs diskPath');
    try {
      return await this.db.transaction(async (tx) => {
        if (body.isDefault) await this.hosts.clearDefaultImage(tx);
        const image = await this.hosts.insertImage(tx, {
          name: body.name,
          kind: body.kind,
          kernelPath: body.kernelPath ?? null,
          initrdPath: body.initrdPath ?? null,
          diskPath: body.diskPath ?? null,
          kernelCmdline: body.kernelCmdline ?? 'console=ttyS0',
          isDefault: body.isDefault ?? false,
        });
        return toImageResponse(image);
      });
    } catch (err) {
      if (isUniqueViolation(err, 'uq_images_name'))
        throw DomainError.conflict(`an image named "${body.name}" already exists`);
      throw err;
    }
  }

  async listImages(): Promise<ImageResponse[]> {
    return (await this.hosts.listImages()).map(toImageResponse);
  }

  private async mustFind(id: string): Promise<HostEntity> {
    const host = await this.hosts.findById(id);
    if (!host) throw DomainError.notFound('host', id);
    return host;
  }
}
