import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { DomainError } from '../common/domain-error.js';
import { IdPipe } from '../common/id.pipe.js';
import { type IfMatch, IfMatchHeader } from '../common/if-match.js';
import { isDnsLabel } from '../common/dns-label.js';
import { PatchWorkerPoolRequest, WorkerPoolRequest, WorkerPoolResponse } from './clusters.dto.js';
import { WorkerPoolsService } from './worker-pools.service.js';

/** A pool's name in a path: a DNS label, else 404 (no pool can have it). */
function poolName(name: string): string {
  if (!isDnsLabel(name)) throw DomainError.notFound('worker pool', name.slice(0, 63));
  return name;
}

@ApiTags('tenant: clusters')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/clusters/:id/pools')
export class WorkerPoolsController {
  constructor(private readonly pools: WorkerPoolsService) {}

  @Get()
  list(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
  ): Promise<{ items: WorkerPoolResponse[] }> {
    return this.pools.list(auth, id);
  }

  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({ type: WorkerPoolResponse })
  add(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body() body: WorkerPoolRequest,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.pools.add(auth, id, body, ifMatch);
  }

  @Get(':name')
  @ApiOkResponse({ type: WorkerPoolResponse })
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
  @ApiAcceptedResponse({ type: WorkerPoolResponse })
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
  @ApiAcceptedResponse({ type: WorkerPoolResponse })
  remove(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('name') name: string,
    @IfMatchHeader() ifMatch: IfMatch,
  ): Promise<WorkerPoolResponse> {
    return this.pools.remove(auth, id, poolName(name), ifMatch);
  }
}
