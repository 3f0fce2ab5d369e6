import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  IsObject,
  ValidateBy,
} from 'class-validator';
import type { Condition } from '../common/conditions.js';
import { IsDnsLabel } from '../common/dns-label.js';
import type { NodeEntity } from '../nodes/node.entity.js';
import type { EventEntity } from '../events/event.entity.js';
import type { ClusterEntity, ClusterSettings } from './cluster.entity.js';
import type { NodeSpec, PoolAutoscale, Taint, WorkerPool } from './worker-pools.js';
import { MAX_POOLS, TAINT_EFFECTS } from './worker-pools.js';

export class NodeSpecDto {
  @ApiProperty({ minimum: 1, maximum: 64, example: 2 })
  @IsInt({ message: 'nodeSpec.vcpus must be a whole number' })
  @Min(1, { message: 'nodeSpec.vcpus must be at least 1' })
  @Max(64, { message: 'nodeSpec.vcpus must be at most 64' })
  vcpus: number;

  @ApiProperty({ minimum: 256, maximum: 262144, example: 2048 })
  @IsInt({ message: 'nodeSpec.memoryMiB must be a whole number' })
  @Min(256, { message: 'nodeSpec.memoryMiB must be at least 256' })
  @Max(262144, { message: 'nodeSpec.memoryMiB must be at most 262144' })
  memoryMiB: number;

  @ApiProperty({ minimum: 1, maximum: 4096, example: 20 })
  @IsInt({ message: 'nodeSpec.diskGiB must be a whole number' })
  @Min(1, { message: 'nodeSpec.diskGiB must be at least 1' })
  @Max(4096, { message: 'nodeSpec.diskGiB must be at most 4096' })
  diskGiB: number;
}

export class AutoscaleDto {
  @ApiProperty() @IsInt() @Min(0) @Max(100) minWorkers: number;
  @ApiProperty() @IsInt() @Min(0) @Max(100) maxWorkers: number;
  @ApiProperty() @IsInt() @Min(1) @Max(100) targetCpuPercent: number;
  @ApiPropertyOptional({ default: 120, description: 'seconds between two changes' })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(86400)
  cooldownSeconds?: number;
}

export class PoolAutoscaleDto {
  @ApiProperty({ minimum: 0, maximum: 100 })
  @IsInt({ message: 'autoscale.minCount must be a whole number' })
  @Min(0, { message: 'autoscale.minCount must be at least 0' })
  @Max(100, { message: 'autoscale.minCount must be at most 100' })
  minCount: number;

  @ApiProperty({ minimum: 0, maximum: 100 })
  @IsInt({ message: 'autoscale.maxCount must be a whole number' })
  @Min(0, { message: 'autoscale.maxCount must be at least 0' })
  @Max(100, { message: 'autoscale.maxCount must be at most 100' })
  maxCount: number;

  @ApiProperty({ minimum: 1, maximum: 100 })
  @IsInt({ message: 'autoscale.targetCpuPercent must be a whole number' })
  @Min(1, { message: 'autoscale.targetCpuPercent must be at least 1' })
  @Max(100, { message: 'autoscale.targetCpuPercent must be at most 100' })
  targetCpuPercent: number;

  @ApiPropertyOptional({ default: 120, description: 'seconds between two changes' })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(86400)
  cooldownSeconds?: number;
}

export class TaintDto {
  @ApiProperty({ example: 'dedicated' }) key: string;
  @ApiPropertyOptional({ example: 'gpu' }) value?: string;
  @ApiProperty({ enum: TAINT_EFFECTS }) effect: string;
}

/** Labels and taints are checked as Kubernetes checks them, by the service (named field errors). */
export class WorkerPoolRequest {
  @IsDnsLabel('gpu')
  name: string;

  @ApiProperty({ minimum: 0, maximum: 100 })
  @IsInt({ message: 'count must be a whole number' })
  @Min(0, { message: 'count must be at least 0' })
  @Max(100, { message: 'count must be at most 100' })
  count: number;

  @ApiPropertyOptional({ type: NodeSpecDto, description: "the cluster's nodeSpec when absent" })
  @IsOptional()
  @IsObject({ message: 'nodeSpec must be an object' })
  @ValidateNested()
  @Type(() => NodeSpecDto)
  nodeSpec?: NodeSpecDto;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { tier: 'gpu' } })
  @IsOptional()
  @IsObject({ message: 'labels must be an object of label keys to values' })
  labels?: Record<string, string>;

  @ApiPropertyOptional({ type: [TaintDto] })
  @IsOptional()
  @IsArray({ message: 'taints must be a list' })
  taints?: Taint[];

  @ApiPropertyOptional({ type: PoolAutoscaleDto })
  @IsOptional()
  @IsObject({ message: 'autoscale must be an object' })
  @ValidateNested()
  @Type(() => PoolAutoscaleDto)
  autoscale?: PoolAutoscaleDto;
}

export class PatchWorkerPoolRequest {
  @ApiPropertyOptional({ minimum: 0, maximum: 100 })
  @IsOptional()
  @IsInt({ message: 'count must be a whole number' })
  @Min(0, { message: 'count must be at least 0' })
  @Max(100, { message: 'count must be at most 100' })
  count?: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject({ message: 'labels must be an object of label keys to values' })
  labels?: Record<string, string>;

  @ApiPropertyOptional({ type: [TaintDto] })
  @IsOptional()
  @IsArray({ message: 'taints must be a list' })
  taints?: Taint[];

  @ApiPropertyOptional({ type: PoolAutoscaleDto, nullable: true, description: 'null turns the autoscaler off' })
  @IsOptional()
  @IsObject({ message: 'autoscale must be an object or null' })
  @ValidateNested()
  @Type(() => PoolAutoscaleDto)
  autoscale?: PoolAutoscaleDto | null;
}

export class NodeCountsResponse {
  @ApiProperty({ description: 'nodes declared' }) desired: number;
  @ApiProperty({ description: 'of them, Ready' }) ready: number;
}

export class WorkerPoolResponse {
  @ApiProperty() name: string;
  @ApiProperty() count: number;
  @ApiProperty({ type: NodeSpecDto }) nodeSpec: NodeSpec;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels: Record<string, string>;
  @ApiProperty({ type: [TaintDto] }) taints: Taint[];
  @ApiPropertyOptional({ type: PoolAutoscaleDto }) autoscale?: PoolAutoscale;
  @ApiProperty({ type: NodeCountsResponse }) nodeCounts: NodeCountsResponse;
}

export function toWorkerPoolResponse(
  p: WorkerPool,
  nodes: readonly Pick<NodeEntity, 'phase' | 'pool' | 'deleteRequestedAt'>[],
): WorkerPoolResponse {
  const mine = nodes.filter((n) => n.pool === p.name && !n.deleteRequestedAt);
  return {
    name: p.name,
    count: p.count,
    nodeSpec: p.nodeSpec,
    labels: p.labels,
    taints: p.taints,
    ...(p.autoscale ? { autoscale: p.autoscale } : {}),
    nodeCounts: { desired: p.count, ready: mine.filter((n) => n.phase === 'Ready').length },
  };
}

export class UpgradeSettingsDto {
  @ApiPropertyOptional({ default: 1, minimum: 1, maximum: 10, description: 'new workers made at once per pool' })
  @IsOptional()
  @IsInt({ message: 'upgrade.maxSurge must be a whole number' })
  @Min(1, { message: 'upgrade.maxSurge must be at least 1' })
  @Max(10, { message: 'upgrade.maxSurge must be at most 10' })
  maxSurge?: number;

  @ApiPropertyOptional({
    default: 0,
    minimum: 0,
    maximum: 0,
    description: 'workers taken away before their replacement is ready: 0 (every replacement surges first)',
  })
  @IsOptional()
  @IsInt({ message: 'upgrade.maxUnavailable must be a whole number' })
  @Min(0, { message: 'upgrade.maxUnavailable must be 0' })
  @Max(0, { message: 'upgrade.maxUnavailable must be 0: replacements always surge first' })
  maxUnavailable?: number;
}

export class BackupSettingsDto {
  @ApiProperty({ minimum: 5, maximum: 10080, description: 'minutes between scheduled backups' })
  @IsInt({ message: 'backup.intervalMinutes must be a whole number' })
  @Min(5, { message: 'backup.intervalMinutes must be at least 5' })
  @Max(10080, { message: 'backup.intervalMinutes must be at most 10080 (a week)' })
  intervalMinutes: number;

  @ApiProperty({ minimum: 1, maximum: 100, description: 'scheduled backups kept (the newest)' })
  @IsInt({ message: 'backup.keep must be a whole number' })
  @Min(1, { message: 'backup.keep must be at least 1' })
  @Max(100, { message: 'backup.keep must be at most 100' })
  keep: number;
}

export class RestoreFromDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'restoreFrom.backupId must be a backup id' })
  backupId: string;
}

export class ClusterSettingsDto {
  @ApiPropertyOptional({ default: 600 })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(86400)
  nodeStartupTimeoutSeconds?: number;

  @ApiPropertyOptional({ default: 60 })
  @IsOptional()
  @IsInt()
  @Min(5)
  @Max(86400)
  unhealthyTimeoutSeconds?: number;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'integer', minimum: 0, maximum: 1000 },
      { type: 'string', pattern: '^(100|[1-9]?\\d)%$' },
    ],
    description: 'a count, or a percentage like "40%"',
    default: '40%',
  })
  @IsOptional()
  @ValidateBy({
    name: 'isCountOrPercentage',
    validator: {
      validate: (v: unknown) =>
        (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1000) ||
        (typeof v === 'string' && /^(100|[1-9]?\d)%$/.test(v)),
      defaultMessage: () => 'maxUnhealthy must be a count (0 to 1000) or a percentage like "40%"',
    },
  })
  maxUnhealthy?: number | string;

  @ApiPropertyOptional({ type: UpgradeSettingsDto })
  @IsOptional()
  @IsObject({ message: 'upgrade must be an object' })
  @ValidateNested()
  @Type(() => UpgradeSettingsDto)
  upgrade?: UpgradeSettingsDto;

  @ApiPropertyOptional({ type: AutoscaleDto })
  @IsOptional()
  @IsObject({ message: 'autoscale must be an object' })
  @ValidateNested()
  @Type(() => AutoscaleDto)
  autoscale?: AutoscaleDto;

  @ApiPropertyOptional({
    type: BackupSettingsDto,
    nullable: true,
    description: 'backups on a schedule; null takes no more scheduled backups',
  })
  @IsOptional()
  @IsObject({ message: 'backup must be an object' })
  @ValidateNested()
  @Type(() => BackupSettingsDto)
  backup?: BackupSettingsDto | null;
}

export class CreateClusterRequest {
  @IsDnsLabel('web')
  name: string;

  @ApiProperty({ example: 'etcd' })
  @IsString({ message: 'controlPlane must be a string' })
  @MaxLength(32)
  controlPlane: string;

  @ApiPropertyOptional({ example: 'v3.4.23' })
  @IsOptional()
  @IsString({ message: 'version must be a string' })
  @MaxLength(32)
  version?: string;

  @ApiProperty({ enum: [1, 3, 5] })
  @IsIn([1, 3, 5], { message: 'masters must be 1, 3 or 5' })
  masters: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 100,
    description: 'one pool named "default" of this many workers; give this or workerPools',
  })
  @IsOptional()
  @IsInt({ message: 'workers must be a whole number' })
  @Min(0, { message: 'workers must be at least 0' })
  @Max(100, { message: 'workers must be at most 100' })
  workers?: number;

  @ApiPropertyOptional({ type: [WorkerPoolRequest], maxItems: MAX_POOLS })
  @IsOptional()
  @IsArray({ message: 'workerPools must be a list' })
  @ArrayMaxSize(MAX_POOLS, { message: `workerPools may hold at most ${MAX_POOLS} pools` })
  @ValidateNested({ each: true })
  @Type(() => WorkerPoolRequest)
  workerPools?: WorkerPoolRequest[];

  @ApiProperty({ type: NodeSpecDto })
  @IsObject({ message: 'nodeSpec must be an object' })
  @ValidateNested()
  @Type(() => NodeSpecDto)
  nodeSpec: NodeSpecDto;

  @ApiProperty({ format: 'uuid' }) @IsUUID('all', { message: 'vpcId must be a VPC id' }) vpcId: string;
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'storagePoolId must be a storage pool id' })
  storagePoolId: string;
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'floatingIpId must be a floating IP id' })
  floatingIpId: string;

  @ApiPropertyOptional({ type: ClusterSettingsDto })
  @IsOptional()
  @IsObject({ message: 'settings must be an object' })
  @ValidateNested()
  @Type(() => ClusterSettingsDto)
  settings?: ClusterSettingsDto;

  @ApiPropertyOptional({
    type: RestoreFromDto,
    description: "a new cluster whose control plane starts from this backup's data, at the backup's version",
  })
  @IsOptional()
  @IsObject({ message: 'restoreFrom must be an object' })
  @ValidateNested()
  @Type(() => RestoreFromDto)
  restoreFrom?: RestoreFromDto;
}

export class PatchClusterRequest {
  @ApiPropertyOptional({ example: 'v3.5.16', description: 'rolls the cluster to this version of its bundle' })
  @IsOptional()
  @IsString({ message: 'version must be a string' })
  @MaxLength(32)
  version?: string;

  @ApiPropertyOptional({ enum: [1, 3, 5] })
  @IsOptional()
  @IsIn([1, 3, 5], { message: 'masters must be 1, 3 or 5' })
  masters?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 100 })
  @IsOptional()
  @IsInt({ message: 'workers must be a whole number' })
  @Min(0, { message: 'workers must be at least 0' })
  @Max(100, { message: 'workers must be at most 100' })
  workers?: number;

  @ApiPropertyOptional({ type: ClusterSettingsDto })
  @IsOptional()
  @IsObject({ message: 'settings must be an object' })
  @ValidateNested()
  @Type(() => ClusterSettingsDto)
  settings?: ClusterSettingsDto;
}

export class KubeconfigQuery {
  @ApiPropertyOptional({
    minimum: 60,
    maximum: 2592000,
    default: 86400,
    description: "the client certificate's lifetime in seconds (at most 30 days)",
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'ttlSeconds must be a whole number of seconds' })
  @Min(60, { message: 'ttlSeconds must be at least 60' })
  @Max(2592000, { message: 'ttlSeconds must be at most 2592000 (30 days)' })
  ttlSeconds?: number;
}

export class EventStreamQuery {
  @ApiPropertyOptional({ format: 'uuid', description: "one cluster's events; all of the caller's when absent" })
  @IsOptional()
  @IsUUID('all', { message: 'clusterId must be a cluster id' })
  clusterId?: string;
}

export class ConditionDto implements Condition {
  @ApiProperty() type: string;
  @ApiProperty({ enum: ['True', 'False', 'Unknown'] }) status: 'True' | 'False' | 'Unknown';
  @ApiProperty() reason: string;
  @ApiProperty() message: string;
  @ApiProperty() lastTransitionTime: string;
}

export class RestoredFromResponse {
  @ApiProperty({ format: 'uuid' }) backupId: string;
  @ApiProperty({ nullable: true, type: String, description: 'when the restore finished; null while it runs' })
  restoredAt: string | null;
}

export class NodeUsageResponse {
  @ApiProperty({ description: "share of the node's vCPUs in use" }) cpuPercent: number;
  @ApiProperty() memoryMiB: number;
}

export class ClusterUsageResponse {
  @ApiProperty({ description: "mean share of the sampled nodes' vCPUs in use" }) cpuPercent: number;
  @ApiProperty({ description: 'memory in use, summed over the sampled nodes' }) memoryMiB: number;
  @ApiProperty({ description: 'nodes sampled' }) nodes: number;
}

export class ClusterResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() controlPlane: string;
  @ApiProperty() version: string;
  @ApiProperty() masters: number;
  @ApiProperty({ description: "the sum of the pools' counts" }) workers: number;
  @ApiProperty({ type: [WorkerPoolResponse] }) workerPools: WorkerPoolResponse[];
  @ApiProperty({ type: NodeSpecDto }) nodeSpec: NodeSpecDto;
  @ApiProperty() vpcId: string;
  @ApiProperty() storagePoolId: string;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'null once released (PATCH /v1/floating-ips/:id): the cluster then has no endpoint',
  })
  floatingIpId: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'the floating IP and port of the control plane' })
  endpoint: string | null;
  @ApiProperty({ enum: ['Pending', 'Provisioning', 'Running', 'Updating', 'Degraded', 'Deleting', 'Failed'] })
  phase: string;
  @ApiProperty({ type: [ConditionDto] }) conditions: Condition[];
  @ApiProperty({ type: NodeCountsResponse }) nodeCounts: NodeCountsResponse;
  @ApiProperty({ description: 'remediation paused (pauseCluster)' }) paused: boolean;
  @ApiProperty({ description: 'raised by every change of the declared state; the ETag of GET' }) generation: number;
  @ApiProperty({ description: 'the generation the reconciler last acted on' }) observedGeneration: number;
  @ApiProperty({ type: ClusterSettingsDto }) settings: ClusterSettings;
  @ApiProperty({
    type: RestoredFromResponse,
    nullable: true,
    description: 'the backup the cluster was created from; null for a cluster not made from one',
  })
  restoredFrom: RestoredFromResponse | null;
  @ApiProperty({ type: ClusterUsageResponse, nullable: true, description: 'null until its nodes report usage' })
  usage: ClusterUsageResponse | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export function toClusterResponse(
  c: ClusterEntity,
  nodes: readonly Pick<NodeEntity, 'phase' | 'pool' | 'deleteRequestedAt' | 'usage'>[],
  floatingAddress: string | null,
  endpointPort: number,
  scheme: string,
): ClusterResponse {
  const live = nodes.filter((n) => !n.deleteRequestedAt);
  const sampled = live.filter((n) => n.usage);
  return {
    id: c.id,
    name: c.name,
    controlPlane: c.controlPlane,
    version: c.version,
    masters: c.masters,
    workers: c.workers,
    workerPools: c.workerPools.map((p) => toWorkerPoolResponse(p, nodes)),
    nodeSpec: { vcpus: c.vcpus, memoryMiB: c.memoryMiB, diskGiB: c.diskGiB },
    vpcId: c.vpcId,
    storagePoolId: c.storagePoolId,
    floatingIpId: c.floatingIpId,
    endpoint: floatingAddress ? `${scheme}://${floatingAddress}:${endpointPort}` : null,
    phase: c.phase,
    conditions: c.conditions,
    nodeCounts: { desired: c.masters + c.workers, ready: live.filter((n) => n.phase === 'Ready').length },
    paused: c.paused,
    generation: c.generation,
    observedGeneration: c.observedGeneration,
    settings: c.settings,
    restoredFrom: c.restoreBackupId
      ? { backupId: c.restoreBackupId, restoredAt: c.restoredAt?.toISOString() ?? null }
      : null,
    usage: sampled.length
      ? {
          nodes: sampled.length,
          cpuPercent: Math.round((sampled.reduce((a, n) => a + n.usage!.cpuPercent, 0) / sampled.length) * 10) / 10,
          memoryMiB: sampled.reduce((a, n) => a + n.usage!.memoryMiB, 0),
        }
      : null,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export class NodeResponse {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() clusterId: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ['master', 'worker'] }) role: string;
  @ApiProperty({ nullable: true, type: String, description: "a worker's pool; null for masters" }) pool: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels: Record<string, string>;
  @ApiProperty({ type: [TaintDto] }) taints: Taint[];
  @ApiProperty({ nullable: true, type: String }) hostId: string | null;
  @ApiProperty({ description: "the version of the cluster's bundle this node runs" }) version: string;
  @ApiProperty({ nullable: true, type: String, description: "when the node's certificate ends" })
  certificateExpiresAt: string | null;
  @ApiProperty() vcpus: number;
  @ApiProperty() memoryMiB: number;
  @ApiProperty() diskGiB: number;
  @ApiProperty({ nullable: true, type: String }) address: string | null;
  @ApiProperty({
    enum: ['Pending', 'Provisioning', 'Booting', 'Joining', 'Ready', 'NotReady', 'Deleting', 'Failed'],
  })
  phase: string;
  @ApiProperty({ type: [ConditionDto] }) conditions: Condition[];
  @ApiProperty({ nullable: true, type: String }) lastHeartbeatAt: string | null;
  @ApiProperty({ type: NodeUsageResponse, nullable: true, description: 'null until the node reports usage' })
  usage: NodeUsageResponse | null;
  @ApiProperty() createdAt: string;
}

export function toNodeResponse(n: NodeEntity): NodeResponse {
  return {
    id: n.id,
    clusterId: n.clusterId,
    name: n.name,
    role: n.role,
    pool: n.pool,
    labels: n.labels,
    taints: n.taints,
    hostId: n.hostId,
    version: n.version,
    certificateExpiresAt: n.certificateExpiresAt?.toISOString() ?? null,
    vcpus: n.vcpus,
    memoryMiB: n.memoryMiB,
    diskGiB: n.diskGiB,
    address: n.address,
    phase: n.deleteRequestedAt && n.phase !== 'Failed' ? 'Deleting' : n.phase,
    conditions: n.conditions,
    lastHeartbeatAt: n.lastHeartbeatAt?.toISOString() ?? null,
    usage: n.usage ? { cpuPercent: n.usage.cpuPercent, memoryMiB: n.usage.memoryMiB } : null,
    createdAt: n.createdAt.toISOString(),
  };
}

export class EventResponse {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['Normal', 'Warning'] }) type: string;
  @ApiProperty() reason: string;
  @ApiProperty() message: string;
  @ApiProperty({ nullable: true, type: String }) nodeId: string | null;
  @ApiProperty() createdAt: string;
}

export function toEventResponse(e: EventEntity): EventResponse {
  return {
    id: String(e.id),
    type: e.type,
    reason: e.reason,
    message: e.message,
    nodeId: e.nodeId,
    createdAt: e.createdAt.toISOString(),
  };
}
