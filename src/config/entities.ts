import { AuditRecordEntity } from '../audit/audit-record.entity.js';
import { IdempotencyRecordEntity } from '../common/idempotency-record.entity.js';
import { StoragePoolEntity, VolumeEntity } from '../storage-pools/storage-pool.entity.js';
import {
  FloatingIpEntity,
  FloatingIpRangeEntity,
  IpAllocationEntity,
  VpcEntity,
} from '../networks/network.entities.js';
import { HostEntity, ImageEntity } from '../hypervisor/host.entity.js';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { ClusterSecretsEntity } from '../control-plane/cluster-secrets.entity.js';
import { EventEntity } from '../events/event.entity.js';
import { NodeEntity } from '../nodes/node.entity.js';
import { ApiKeyEntity } from '../tenants/api-key.entity.js';
import { TenantEntity } from '../tenants/tenant.entity.js';

/** Every entity the platform maps; the schema itself comes only from migrations/. */
export const ENTITIES = [
  TenantEntity,
  ApiKeyEntity,
  IdempotencyRecordEntity,
  StoragePoolEntity,
  VolumeEntity,
  VpcEntity,
  IpAllocationEntity,
  FloatingIpRangeEntity,
  FloatingIpEntity,
  HostEntity,
  ImageEntity,
  ClusterEntity,
  ClusterSecretsEntity,
  EventEntity,
  NodeEntity,
  AuditRecordEntity,
];
