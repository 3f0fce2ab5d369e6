import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { type IfMatch, IfMatchHeader } from '../common/if-match.js';
import { IdPipe } from '../common/id.pipe.js';
import { ListQuery, NamedListQuery, type Page } from '../common/pagination.js';
import {
  ClusterResponse,
  CreateClusterRequest,
  KubeconfigQuery,
  type EventResponse,
  NodeResponse,
  PatchClusterRequest,
} from './clusters.dto.js';
import { ClusterDetailsService } from './cluster-details.service.js';
import { ClustersService } from './clusters.service.js';

@ApiTags('tenant: clusters')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/clusters')
export class ClustersController {
  constructor(
    private readonly clusters: ClustersService,
    private readonly details: ClusterDetailsService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({ type: ClusterResponse })
  create(@Auth() auth: AuthContext, @Body() body: CreateClusterRequest): Promise<ClusterResponse> {
    return this.clusters.create(auth, body);
  }

  @Get()
  list(@Auth() auth: AuthContext, @Query() q: NamedListQuery): Promise<Page<ClusterResponse>> {
    return this.clusters.list(auth, q.limit, q.cursor, q.name);
  }

  @Get(':id')
  @ApiOkResponse({ type: ClusterResponse, headers: { ETag: { description: 'the generation, quoted' } } })
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
  @ApiHeader({ name: 'If-Match', required: false, description: 'the ETag read: 412 if the cluster changed since' })
  @ApiAcceptedResponse({ type: ClusterResponse })
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
  @ApiHeader({ name: 'If-Match', required: false, description: 'the ETag read: 412 if the cluster changed since' })
  @ApiAcceptedResponse({ type: ClusterResponse })
  remove(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<ClusterResponse> {
    return this.clusters.remove(auth, id, ifMatch);
  }

  @Post(':id/pause')
  @HttpCode(200)
  pause(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<ClusterResponse> {
    return this.clusters.setPaused(auth, id, true);
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<ClusterResponse> {
    return this.clusters.setPaused(auth, id, false);
  }

  @Post(':id/rotate-certificates')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: ClusterResponse })
  rotateCertificates(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<ClusterResponse> {
    return this.clusters.rotateCertificates(auth, id);
  }

  @Get(':id/nodes')
  nodes(@Auth() auth: AuthContext, @Param('id', new IdPipe('cluster')) id: string): Promise<{ items: NodeResponse[] }> {
    return this.details.nodesOf(auth, id);
  }

  @Post(':id/nodes/:nodeId/replace')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: NodeResponse })
  replace(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('nodeId', new IdPipe('node')) nodeId: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<NodeResponse> {
    return this.details.replaceNode(auth, id, nodeId);
  }

  @Get(':id/events')
  events(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Query() q: ListQuery,
  ): Promise<Page<EventResponse>> {
    return this.details.eventsOf(auth, id, q.limit, q.cursor);
  }

  @Get(':id/kubeconfig')
  @ApiProduces('application/yaml')
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
