import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { IdPipe } from '../common/id.pipe.js';
import { NamedListQuery, type Page } from '../common/pagination.js';
import { CreateStoragePoolRequest, StoragePoolResponse } from './storage-pools.dto.js';
import { StoragePoolsService } from './storage-pools.service.js';

@ApiTags('tenant: storage pools')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/storage-pools')
export class StoragePoolsController {
  constructor(private readonly pools: StoragePoolsService) {}

  @Post()
  @ApiCreatedResponse({ type: StoragePoolResponse })
  create(@Auth() auth: AuthContext, @Body() body: CreateStoragePoolRequest): Promise<StoragePoolResponse> {
    return this.pools.create(auth, body.name, body.capacityGiB);
  }

  @Get()
  list(@Auth() auth: AuthContext, @Query() q: NamedListQuery): Promise<Page<StoragePoolResponse>> {
    return this.pools.list(auth, q.limit, q.cursor, q.name);
  }

  @Get(':id')
  @ApiOkResponse({ type: StoragePoolResponse })
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('storage pool')) id: string): Promise<StoragePoolResponse> {
    return this.pools.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Auth() auth: AuthContext, @Param('id', new IdPipe('storage pool')) id: string): Promise<void> {
    return this.pools.remove(auth, id);
  }
}
