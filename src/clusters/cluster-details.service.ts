import { Injectable } from '@nestjs/common';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { DomainError } from '../common/domain-error.js';
import { CURSOR_SHAPE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import { BundlesService } from '../control-plane/bundles.service.js';
import {
  issueKubeconfigCertificate,
  KUBECONFIG_TTL_DEFAULT_SECONDS,
  KUBECONFIG_TTL_MAX_SECONDS,
  KUBECONFIG_TTL_MIN_SECONDS,
  kubeconfigYaml,
} from '../control-plane/cluster-pki.js';
import { ClusterSecretsStore } from '../control-plane/cluster-secrets.store.js';
import { EventsRepository } from '../events/events.repository.js';
import { EventsService } from '../events/events.service.js';
import { JobQueue } from '../jobs/job-types.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import { NodesRepository } from '../nodes/nodes.repository.js';
import type { ClusterEntity } from './cluster.entity.js';
import { type EventResponse, type NodeResponse, toEventResponse, toNodeResponse } from './clusters.dto.js';
import { ClustersRepository } from './clusters.repository.js';

/** A tenant's look into one cluster: its nodes, its events, its kubeconfig; and a node's replacement. */
@Injectable()
export class ClusterDetailsService {
  constructor(
    private readonly clusters: ClustersRepository,
    private readonly nodes: NodesRepository,
    private readonly eventsRepo: EventsRepository,
    private readonly events: EventsService,
    private readonly secrets: ClusterSecretsStore,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly bundles: BundlesService,
    private readonly jobs: JobQueue,
  ) {}

  private async mustFind(auth: AuthContext, id: string): Promise<ClusterEntity> {
    const cluster = await this.clusters.findForTenant(tenantOf(auth), id);
    if (!cluster) throw DomainError.notFound('cluster', id);
    return cluster;
  }

  async nodesOf(auth: AuthContext, id: string): Promise<{ items: NodeResponse[] }> {
    await this.mustFind(auth, id);
    return { items: (await this.nodes.forCluster(id)).map(toNodeResponse) };
  }

  async replaceNode(auth: AuthContext, id: string, nodeId: string): Promise<NodeResponse> {
    const cluster = await this.mustFind(auth, id);
    const node = await this.nodes.findById(nodeId);
    if (!node || node.clusterId !== id) throw DomainError.notFound('node', nodeId);
    if (node.deleteRequestedAt) throw DomainError.conflict(`node ${node.name} is already being removed`);
    await this.nodes.update(nodeId, { deleteRequestedAt: new Date(), deleteReason: 'replace requested' });
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: id, nodeId },
      'ReplaceRequested',
      `replacement of ${node.name} requested`,
    );
    await this.jobs.nudge('cluster.reconcile', { clusterId: id }, { resourceKey: id });
    return toNodeResponse((await this.nodes.findById(nodeId))!);
  }

  async eventsOf(auth: AuthContext, id: string, limit = 100, cursor?: string): Promise<Page<EventResponse>> {
    await this.mustFind(auth, id);
    const before = decodeCursor(cursor, ['id'], { id: CURSOR_SHAPE.sequence });
    const rows = await this.eventsRepo.forCluster(id, limit + 1, before?.id);
    return toPage(rows, limit, toEventResponse, (e) => ({ id: String(e.id) }));
  }

  /**
   * A kubeconfig whose client certificate is made for this download: valid `ttlSeconds`, named
   * after the caller's API key. The cluster's own admin credential never leaves the platform.
   */
  async kubeconfig(auth: AuthContext, id: string, ttlSeconds = KUBECONFIG_TTL_DEFAULT_SECONDS): Promise<string> {
    if (
      !Number.isInteger(ttlSeconds) ||
      ttlSeconds < KUBECONFIG_TTL_MIN_SECONDS ||
      ttlSeconds > KUBECONFIG_TTL_MAX_SECONDS
    )
      throw DomainError.validation(
        'ttlSeconds',
        `must be a whole number of seconds from ${KUBECONFIG_TTL_MIN_SECONDS} to ${KUBECONFIG_TTL_MAX_SECONDS} (30 days)`,
      );
    const cluster = await this.mustFind(auth, id);
    const fip = cluster.floatingIpId
      ? await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId)
      : null;
    // Without an endpoint a kubeconfig would point nowhere; say how to give it one instead.
    if (!fip)
      throw DomainError.conflict(
        `cluster "${cluster.name}" has no floating IP; associate one with PATCH /v1/floating-ips/:id`,
      );
    const secrets = await this.secrets.get(id);
    if (!secrets)
      throw DomainError.conflict(`cluster "${cluster.name}" has no credentials yet; try again once it is provisioning`);
    const bundle = this.bundles.get(cluster.controlPlane);
    const port = bundle?.manifest.endpoint.port ?? 6443;
    const client = await issueKubeconfigCertificate(secrets, auth.principalId, ttlSeconds);
    const expires = new Date(Date.now() + ttlSeconds * 1000).toISOString();
    await this.events.normal(
      { tenantId: cluster.tenantId, clusterId: id },
      'KubeconfigIssued',
      `a kubeconfig certificate for ${auth.principalId}, valid until ${expires}`,
    );
    return kubeconfigYaml({
      clusterName: cluster.name,
      server: `https://${fip.address}:${port}`,
      caCertPem: secrets.caCertPem,
      client,
    });
  }
}
