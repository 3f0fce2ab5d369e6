import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { type IfMatch, IfMatchHeader } from '../common/if-match.js';
import { IdPipe } from '../common/id.pipe.js';
import {
  ApiEmptyBody,
  ApiErrors,
  ApiIfMatch,
  ApiList,
  ApiOkText,
  ApiPage,
  ApiTenantRoutes,
  ETAG_HEADER,
} from '../common/openapi.js';
import { ListQuery, NamedListQuery, type Page } from '../common/pagination.js';
import {
  ClusterResponse,
  CreateClusterRequest,
  EventResponse,
  KubeconfigQuery,
  NodeResponse,
  PatchClusterRequest,
} from './clusters.dto.js';
import { ClusterDetailsService } from './cluster-details.service.js';
import { ClustersService } from './clusters.service.js';

@ApiTenantRoutes('tenant: clusters')
@TenantRoute()
@Controller('v1/clusters')
export class ClustersController {
  constructor(
    private readonly clusters: ClustersService,
    private readonly details: ClusterDetailsService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'create a cluster', operationId: 'createCluster' })
  @ApiAcceptedResponse({ type: ClusterResponse, description: 'Pending; poll getCluster for its progress' })
  @ApiErrors(
    [409, 'a cluster of that name exists, or the floating IP is the endpoint of another cluster'],
    [422, 'over quota (named in `details`), a version the bundle does not have, or no room on the hosts'],
  )
  create(@Auth() auth: AuthContext, @Body() body: CreateClusterRequest): Promise<ClusterResponse> {
    return this.clusters.create(auth, body);
  }

  @Get()
  @ApiOperation({ summary: 'list clusters, with their status', operationId: 'listClusters' })
  @ApiPage(ClusterResponse)
  @Header('Content-Type', 'application/json; charset=utf-8')
  list(@Auth() auth: AuthContext, @Query() q: NamedListQuery): Promise<string> {
    // The page comes as JSON text: most clusters' answers are ones made before (ClustersService.list).
    return this.clusters.list(auth, q.limit, q.cursor, q.name);
  }

  @Get(':id')
  @ApiOperation({ summary: 'get a cluster, with its status', operationId: 'getCluster' })
  @ApiOkResponse({ type: ClusterResponse, headers: ETAG_HEADER })
  @ApiErrors(404)
  async get(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ClusterResponse> {
    const cluster = await this.clusters.get(auth, id);
    res.setHeader('ETag', `"${cluster.generation}"`);
    return cluster;
  }

  @Patch(':id')
  @HttpCode(202)
  @ApiOperation({
    summary: "change a cluster's size, version or settings",
    description: 'A new version rolls the cluster to it: masters one at a time, then each pool.',
    operationId: 'updateCluster',
  })
  @ApiIfMatch()
  @ApiAcceptedResponse({ type: ClusterResponse, description: 'the new declared state' })
  @ApiErrors(
    404,
    [409, 'the cluster is being deleted, or `workers` given while it has several pools (named in `details`)'],
    [422, 'over quota, or a version the bundle cannot reach from the current one'],
  )
  patch(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body() body: PatchClusterRequest,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<ClusterResponse> {
    return this.clusters.patch(auth, id, body, ifMatch);
  }

  @Delete(':id')
  @HttpCode(202)
  @ApiOperation({ summary: 'delete a cluster', operationId: 'deleteCluster' })
  @ApiIfMatch()
  @ApiAcceptedResponse({ type: ClusterResponse, description: 'Deleting; it leaves the lists once cleaned up' })
  @ApiErrors(404)
  remove(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<ClusterResponse> {
    return this.clusters.remove(auth, id, ifMatch);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: "pause a cluster's remediation", operationId: 'pauseCluster' })
  @ApiEmptyBody()
  @ApiOkResponse({ type: ClusterResponse })
  @ApiErrors(404)
  pause(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<ClusterResponse> {
    return this.clusters.setPaused(auth, id, true);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: "resume a cluster's remediation", operationId: 'resumeCluster' })
  @ApiEmptyBody()
  @ApiOkResponse({ type: ClusterResponse })
  @ApiErrors(404)
  resume(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<ClusterResponse> {
    return this.clusters.setPaused(auth, id, false);
  }

  @Post(':id/rotate-certificates')
  @HttpCode(202)
  @ApiOperation({
    summary: "give every node new certificates from the cluster's CA",
    description: 'One node at a time, without losing quorum.',
    operationId: 'rotateClusterCertificates',
  })
  @ApiEmptyBody()
  @ApiAcceptedResponse({ type: ClusterResponse })
  @ApiErrors(404, [409, 'the cluster is being deleted'])
  rotateCertificates(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<ClusterResponse> {
    return this.clusters.rotateCertificates(auth, id);
  }

  @Get(':id/nodes')
  @ApiOperation({ summary: "list a cluster's nodes", operationId: 'listClusterNodes' })
  @ApiList(NodeResponse)
  @ApiErrors(404)
  nodes(@Auth() auth: AuthContext, @Param('id', new IdPipe('cluster')) id: string): Promise<{ items: NodeResponse[] }> {
    return this.details.nodesOf(auth, id);
  }

  @Post(':id/nodes/:nodeId/replace')
  @HttpCode(202)
  @ApiOperation({ summary: 'replace a node by a new one', operationId: 'replaceClusterNode' })
  @ApiEmptyBody()
  @ApiAcceptedResponse({ type: NodeResponse, description: 'the node, Deleting once its replacement is on its way' })
  @ApiErrors(404, [409, 'the node is already being removed'])
  replace(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('nodeId', new IdPipe('node')) nodeId: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<NodeResponse> {
    return this.details.replaceNode(auth, id, nodeId);
  }

  @Get(':id/events')
  @ApiOperation({ summary: "list a cluster's events, newest first", operationId: 'listClusterEvents' })
  @ApiPage(EventResponse, 'one page, newest first')
  @ApiErrors(404)
  events(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Query() q: ListQuery,
  ): Promise<Page<EventResponse>> {
    return this.details.eventsOf(auth, id, q.limit, q.cursor);
  }

  @Get(':id/kubeconfig')
  @ApiOperation({
    summary: 'a kubeconfig for the cluster, whose server is its floating IP',
    description: "Its client certificate expires after `ttlSeconds` and its subject names the caller's API key.",
    operationId: 'getClusterKubeconfig',
  })
  @ApiOkText('application/yaml', 'a kubeconfig (YAML)')
  @ApiErrors(404, [409, 'the cluster has no floating IP, or no credentials yet'])
  @Header('Content-Type', 'application/yaml; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  kubeconfig(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Query() q: KubeconfigQuery,
  ): Promise<string> {
    return this.details.kubeconfig(auth, id, q.ttlSeconds);
  }
}
