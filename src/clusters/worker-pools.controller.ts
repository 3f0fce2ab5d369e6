import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { DomainError } from '../common/domain-error.js';
import { IdPipe } from '../common/id.pipe.js';
import { type IfMatch, IfMatchHeader } from '../common/if-match.js';
import { isDnsLabel } from '../common/dns-label.js';
import { ApiErrors, ApiIfMatch, ApiList, ApiTenantRoutes } from '../common/openapi.js';
import { PatchWorkerPoolRequest, WorkerPoolRequest, WorkerPoolResponse } from './clusters.dto.js';
import { WorkerPoolsService } from './worker-pools.service.js';

/** A pool's name in a path: a DNS label, else 404 (no pool can have it). */
function poolName(name: string): string {
  if (!isDnsLabel(name)) throw DomainError.notFound('worker pool', name.slice(0, 63));
  return name;
}

@ApiTenantRoutes('tenant: clusters')
@TenantRoute()
@Controller('v1/clusters/:id/pools')
export class WorkerPoolsController {
  constructor(private readonly pools: WorkerPoolsService) {}

  @Get()
  @ApiOperation({ summary: "list a cluster's worker pools", operationId: 'listWorkerPools' })
  @ApiList(WorkerPoolResponse)
  @ApiErrors(404)
  list(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
  ): Promise<{ items: WorkerPoolResponse[] }> {
    return this.pools.list(auth, id);
  }

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'add a worker pool to a cluster', operationId: 'createWorkerPool' })
  @ApiIfMatch()
  @ApiAcceptedResponse({ type: WorkerPoolResponse })
  @ApiErrors(
    404,
    [409, 'the cluster has a pool of that name, or is being deleted'],
    [422, 'over quota, no room in the storage pool, or the most pools a cluster may have'],
  )
  add(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body() body: WorkerPoolRequest,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.pools.add(auth, id, body, ifMatch);
  }

  @Get(':name')
  @ApiOperation({ summary: 'get a worker pool', operationId: 'getWorkerPool' })
  @ApiOkResponse({ type: WorkerPoolResponse })
  @ApiErrors(404)
  async get(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('name') name: string,
  ): Promise<WorkerPoolResponse> {
    const wanted = poolName(name);
    const pool = (await this.pools.list(auth, id)).items.find((p) => p.name === wanted);
    if (!pool) throw DomainError.notFound('worker pool', wanted);
    return pool;
  }

  @Patch(':name')
  @HttpCode(202)
  @ApiOperation({
    summary: "change a worker pool's count, labels, taints or autoscaler",
    operationId: 'updateWorkerPool',
  })
  @ApiIfMatch()
  @ApiAcceptedResponse({ type: WorkerPoolResponse })
  @ApiErrors(404, [409, 'the cluster is being deleted'], [422, 'over quota, or no room in the storage pool'])
  patch(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('name') name: string,
    @Body() body: PatchWorkerPoolRequest,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.pools.patch(auth, id, poolName(name), body, ifMatch);
  }

  @Delete(':name')
  @HttpCode(202)
  @ApiOperation({ summary: 'remove a worker pool: its nodes leave and are removed', operationId: 'deleteWorkerPool' })
  @ApiIfMatch()
  @ApiAcceptedResponse({ type: WorkerPoolResponse, description: 'the pool, with a count of 0' })
  @ApiErrors(404, [409, 'the cluster is being deleted'])
  remove(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('name') name: string,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.pools.remove(auth, id, poolName(name), ifMatch);
  }
}
