import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { IdPipe } from '../common/id.pipe.js';
import { ListQuery, type Page } from '../common/pagination.js';
import { BackupResponse } from './backups.dto.js';
import { BackupsService } from './backups.service.js';

@ApiTags('tenant: backups')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/clusters/:id/backups')
export class ClusterBackupsController {
  constructor(private readonly backups: BackupsService) {}

  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({ type: BackupResponse, description: "a snapshot of the cluster's control plane, Pending" })
  create(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<BackupResponse> {
    return this.backups.create(auth, id);
  }

  @Get()
  @ApiOkResponse({ description: 'newest first' })
  list(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Query() q: ListQuery,
  ): Promise<Page<BackupResponse>> {
    return this.backups.listForCluster(auth, id, q.limit, q.cursor);
  }

  @Get(':backupId')
  @ApiOkResponse({ type: BackupResponse })
  get(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('backupId', new IdPipe('backup')) backupId: string,
  ): Promise<BackupResponse> {
    return this.backups.get(auth, backupId, id);
  }

  @Delete(':backupId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'deleted; its volume leaves the storage pool' })
  remove(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('backupId', new IdPipe('backup')) backupId: string,
  ): Promise<void> {
    return this.backups.remove(auth, backupId, id);
  }
}

/** Every backup of the tenant, those of deleted clusters included. */
@ApiTags('tenant: backups')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/backups')
export class BackupsController {
  constructor(private readonly backups: BackupsService) {}

  @Get()
  @ApiOkResponse({ description: "newest first, each with its clusterId; deleted clusters' backups included" })
  list(@Auth() auth: AuthContext, @Query() q: ListQuery): Promise<Page<BackupResponse>> {
    return this.backups.list(auth, q.limit, q.cursor);
  }

  @Get(':id')
  @ApiOkResponse({ type: BackupResponse })
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('backup')) id: string): Promise<BackupResponse> {
    return this.backups.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'deleted; its volume leaves the storage pool' })
  remove(@Auth() auth: AuthContext, @Param('id', new IdPipe('backup')) id: string): Promise<void> {
    return this.backups.remove(auth, id);
  }
}
