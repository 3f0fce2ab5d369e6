import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { IdPipe } from '../common/id.pipe.js';
import { ApiErrors, ApiPage, ApiTenantRoutes } from '../common/openapi.js';
import { NamedListQuery, type Page } from '../common/pagination.js';
import { CreateStoragePoolRequest, StoragePoolResponse } from './storage-pools.dto.js';
import { StoragePoolsService } from './storage-pools.service.js';

@ApiTenantRoutes('tenant: storage pools')
@TenantRoute()
@Controller('v1/storage-pools')
export class StoragePoolsController {
  constructor(private readonly pools: StoragePoolsService) {}

  @Post()
  @ApiOperation({ summary: 'create a storage pool', operationId: 'createStoragePool' })
  @ApiCreatedResponse({ type: StoragePoolResponse })
  @ApiErrors([409, 'a storage pool of that name exists'], [422, 'over the storage quota'])
  create(@Auth() auth: AuthContext, @Body() body: CreateStoragePoolRequest): Promise<StoragePoolResponse> {
    return this.pools.create(auth, body.name, body.capacityGiB);
  }

  @Get()
  @ApiOperation({ summary: 'list storage pools', operationId: 'listStoragePools' })
  @ApiPage(StoragePoolResponse)
  list(@Auth() auth: AuthContext, @Query() q: NamedListQuery): Promise<Page<StoragePoolResponse>> {
    return this.pools.list(auth, q.limit, q.cursor, q.name);
  }

  @Get(':id')
  @ApiOperation({ summary: 'get a storage pool', operationId: 'getStoragePool' })
  @ApiOkResponse({ type: StoragePoolResponse })
  @ApiErrors(404)
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('storage pool')) id: string): Promise<StoragePoolResponse> {
    return this.pools.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'delete a storage pool', operationId: 'deleteStoragePool' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiErrors(404, [409, 'it still holds volumes (nodes, backups) or a cluster uses it'])
  remove(@Auth() auth: AuthContext, @Param('id', new IdPipe('storage pool')) id: string): Promise<void> {
    return this.pools.remove(auth, id);
  }
}
