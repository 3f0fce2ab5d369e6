import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { IsDnsLabel } from '../common/dns-label.js';
import type { HostEntity, ImageEntity } from './host.entity.js';

/**
 * libvirt URIs the platform accepts: local or remote qemu, or the test driver, in this process
 * (`test:///default`, `test:///PATH.xml`) or served by a libvirtd (`test+unix:///default?socket=…`).
 */
export const HOST_URI =
  /^(qemu(\+(ssh|tls|tcp|unix))?:\/\/[A-Za-z0-9._@:[\]-]*\/(system|session)(\?[A-Za-z0-9=&%._/-]*)?|test:\/\/\/[A-Za-z0-9._/-]+|test\+(ssh|tls|tcp|unix):\/\/[A-Za-z0-9._@:[\]-]*\/[A-Za-z0-9._/-]+(\?[A-Za-z0-9=&%._/-]*)?)$/;

/** Hosts driven by libvirt's test driver, whose guests the platform simulates. */
export function isSimulatedHostUri(uri: string): boolean {
  return /^test(\+[a-z]+)?:\/\//.test(uri);
}

export class CreateHostRequest {
  @IsDnsLabel('kvm-01')
  name: string;

  @ApiProperty({ example: 'qemu+ssh://root@kvm-01/system' })
  @IsString()
  @MaxLength(1024)
  @Matches(HOST_URI, {
    message:
      'uri must be a libvirt URI: qemu:///system, qemu+ssh://user@host/system, qemu+tls://host/system, test:///... or test+unix:///default?socket=...',
  })
  uri: string;

  @ApiProperty({ enum: ['kvm', 'qemu'] })
  @IsIn(['kvm', 'qemu'], { message: 'domainType must be "kvm" or "qemu"' })
  domainType: 'kvm' | 'qemu';

  @ApiPropertyOptional({ description: 'overrides the CPU count the host reports' })
  @IsOptional()
  @IsInt({ message: 'cpus must be a whole number' })
  @Min(1)
  @Max(4096)
  cpus?: number;

  @ApiPropertyOptional({ description: 'overrides the memory the host reports' })
  @IsOptional()
  @IsInt({ message: 'memoryMiB must be a whole number' })
  @Min(256)
  @Max(64 * 1024 * 1024)
  memoryMiB?: number;

  @ApiPropertyOptional({
    description: "disk for nodes' volumes, GiB; measured from the host's platform pool when not given",
  })
  @IsOptional()
  @IsInt({ message: 'diskGiB must be a whole number' })
  @Min(1)
  @Max(1024 * 1024)
  diskGiB?: number;

  @ApiPropertyOptional({
    example: 'kvm-01.example.net',
    description: "its Open vSwitch chassis name (external_ids:system-id), when it is not the host's name",
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message: 'chassis must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  })
  chassis?: string;
}

export const NODE_FAULTS = ['crash', 'hang', 'unready', 'cpu-load'] as const;
export const HOST_FAULTS = ['unreachable', 'reachable'] as const;
export type HostFault = (typeof NODE_FAULTS)[number] | (typeof HOST_FAULTS)[number];

/**
 * A node fault (`crash`, `hang`, `unready`, `cpu-load` with `cpuPercent`) needs `nodeId`; a
 * host fault takes the whole
 * simulated host away (`unreachable`: a network partition; its VMs keep running) and back
 * (`reachable`).
 */
export class HostFaultRequest {
  @ApiProperty({ format: 'uuid', required: false, description: 'required for crash, hang and unready' })
  @ValidateIf((o: HostFaultRequest) => o.nodeId !== undefined || !HOST_FAULTS.includes(o.fault as never))
  @IsUUID('all', { message: 'nodeId must be a node id' })
  nodeId?: string;

  @ApiProperty({ enum: [...NODE_FAULTS, ...HOST_FAULTS] })
  @IsIn([...NODE_FAULTS, ...HOST_FAULTS], {
    message: 'fault must be "crash", "hang", "unready", "cpu-load", "unreachable" or "reachable"',
  })
  fault: HostFault;

  @ApiProperty({ required: false, minimum: 0, maximum: 100, description: 'for cpu-load: the simulated CPU use' })
  @ValidateIf((o: HostFaultRequest) => o.cpuPercent !== undefined || o.fault === 'cpu-load')
  @IsInt({ message: 'cpuPercent must be a whole number from 0 to 100' })
  @Min(0, { message: 'cpuPercent must be a whole number from 0 to 100' })
  @Max(100, { message: 'cpuPercent must be a whole number from 0 to 100' })
  cpuPercent?: number;
}

export class CreateImageRequest {
  @IsDnsLabel('tiny')
  name: string;

  @ApiProperty({ enum: ['kernel', 'qcow2'] })
  @IsIn(['kernel', 'qcow2'], { message: 'kind must be "kernel" or "qcow2"' })
  kind: 'kernel' | 'qcow2';

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(/^\/[^\0]*$/, { message: 'kernelPath must be an absolute path' })
  kernelPath?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(/^\/[^\0]*$/, { message: 'initrdPath must be an absolute path' })
  initrdPath?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(/^\/[^\0]*$/, { message: 'diskPath must be an absolute path' })
  diskPath?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  @Matches(/^[\x20-\x7e]*$/, { message: 'kernelCmdline must be printable ASCII' })
  kernelCmdline?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  isDefault?: boolean;
}

export class HostCapacity {
  @ApiProperty() cpus: number;
  @ApiProperty() memoryMiB: number;
  @ApiProperty({ nullable: true, type: Number, description: 'null while not known' }) diskGiB: number | null;
}

export class HostAllocation {
  @ApiProperty() vcpus: number;
  @ApiProperty() memoryMiB: number;
  @ApiProperty() diskGiB: number;
  @ApiProperty() nodes: number;
}

export class HostResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() uri: string;
  @ApiProperty({ description: 'its Open vSwitch chassis name (system-id)' }) chassis: string;
  @ApiProperty({ enum: ['kvm', 'qemu'] }) domainType: string;
  @ApiProperty({
    description: 'true for hosts on the test driver (test:///..., test+unix:///...), whose guests are simulated',
  })
  simulated: boolean;
  @ApiProperty({ enum: ['Pending', 'Ready', 'Unreachable', 'Draining', 'Drained'] }) state: string;
  @ApiProperty({ type: HostCapacity }) capacity: HostCapacity;
  @ApiProperty({ type: HostAllocation }) allocated: HostAllocation;
  @ApiProperty({ nullable: true, type: String }) lastSeenAt: string | null;
  @ApiProperty({ nullable: true, type: String }) lastError: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export function hostState(h: HostEntity, allocated: HostAllocation): string {
  if (h.drained) return allocated.nodes > 0 ? 'Draining' : 'Drained';
  return h.state;
}

export function toHostResponse(h: HostEntity, allocated: HostAllocation): HostResponse {
  return {
    id: h.id,
    name: h.name,
    uri: h.uri,
    chassis: h.chassis ?? h.name,
    domainType: h.domainType,
    simulated: h.simulated,
    state: hostState(h, allocated),
    capacity: { cpus: h.cpus, memoryMiB: h.memoryMiB, diskGiB: h.diskGiB },
    allocated,
    lastSeenAt: h.lastSeenAt?.toISOString() ?? null,
    lastError: h.lastError,
    createdAt: h.createdAt.toISOString(),
  };
}

export class ImageResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() kind: string;
  @ApiProperty({ nullable: true, type: String }) kernelPath: string | null;
  @ApiProperty({ nullable: true, type: String }) initrdPath: string | null;
  @ApiProperty({ nullable: true, type: String }) diskPath: string | null;
  @ApiProperty() kernelCmdline: string;
  @ApiProperty() isDefault: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export function toImageResponse(i: ImageEntity): ImageResponse {
  return {
    id: i.id,
    name: i.name,
    kind: i.kind,
    kernelPath: i.kernelPath,
    initrdPath: i.initrdPath,
    diskPath: i.diskPath,
    kernelCmdline: i.kernelCmdline,
    isDefault: i.isDefault,
    createdAt: i.createdAt.toISOString(),
  };
}

/** `POST /v1/hosts/:id/faults`: the fault is on its way to the host's worker. */
export class FaultAcceptedResponse {
  @ApiProperty({ enum: [true] }) accepted: true;
}

export class DomainOwnerResponse {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ format: 'uuid' }) clusterId: string;
  @ApiProperty({ format: 'uuid' }) nodeId: string;
  @ApiProperty({ example: 'master' }) role: string;
}

export class OwnedDomainResponse {
  @ApiProperty() name: string;
  @ApiProperty() active: boolean;
  @ApiPropertyOptional({ type: DomainOwnerResponse, description: "from the domain's metadata; absent: not ours" })
  owner?: DomainOwnerResponse;
}

export class HostStoragePoolResponse {
  @ApiProperty() name: string;
  @ApiProperty({ type: [String] }) volumes: string[];
}

/** Everything the platform has made on one host, as the host reports it (HostInventory). */
export class HostInventoryResponse {
  @ApiProperty({ type: [OwnedDomainResponse] }) domains: OwnedDomainResponse[];
  @ApiProperty({ type: [HostStoragePoolResponse] }) pools: HostStoragePoolResponse[];
}

/** One host's part of `POST /v1/health/sweeps`. */
export class HealthSweepResponse {
  @ApiProperty({ description: "the host's name" }) host: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'absent when the sweep failed' }) hostId?: string;
  @ApiProperty({ description: 'nodes on the host' }) nodes: number;
  @ApiProperty({ description: 'of them, unhealthy' }) unhealthy: number;
  @ApiProperty({ description: 'nodes made again' }) recreated: number;
  @ApiProperty({ description: 'VMs of nodes that no longer exist, destroyed' }) orphansDestroyed: number;
  @ApiProperty({ description: 'how long the sweep took' }) ms: number;
  @ApiPropertyOptional({ description: 'why the sweep failed' }) error?: string;
}
