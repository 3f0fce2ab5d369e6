import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { IdPipe } from '../common/id.pipe.js';
import { ApiEmptyBody, ApiErrors, ApiPage, ApiTenantRoutes } from '../common/openapi.js';
import { ListQuery, type Page } from '../common/pagination.js';
import { BackupResponse } from './backups.dto.js';
import { BackupsService } from './backups.service.js';

const DELETED = 'deleted; its volume leaves the storage pool';
const IN_USE = 'a cluster is being restored from it';

@ApiTenantRoutes('tenant: backups')
@TenantRoute()
@Controller('v1/clusters/:id/backups')
export class ClusterBackupsController {
  constructor(private readonly backups: BackupsService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: "back up a cluster's control plane (etcd)", operationId: 'createClusterBackup' })
  @ApiEmptyBody()
  @ApiAcceptedResponse({ type: BackupResponse, description: "a snapshot of the cluster's control plane, Pending" })
  @ApiErrors(
    404,
    [409, 'a backup of the cluster is under way, it has no ready master, or it is being deleted'],
    [422, "the cluster's control plane has no backup method"],
  )
  create(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Body(EmptyBodyPipe) _b: object,
  ): Promise<BackupResponse> {
    return this.backups.create(auth, id);
  }

  @Get()
  @ApiOperation({ summary: "list a cluster's backups, newest first", operationId: 'listClusterBackups' })
  @ApiPage(BackupResponse, 'one page, newest first')
  @ApiErrors(404)
  list(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Query() q: ListQuery,
  ): Promise<Page<BackupResponse>> {
    return this.backups.listForCluster(auth, id, q.limit, q.cursor);
  }

  @Get(':backupId')
  @ApiOperation({ summary: 'get a backup of a cluster', operationId: 'getClusterBackup' })
  @ApiOkResponse({ type: BackupResponse })
  @ApiErrors(404)
  get(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('backupId', new IdPipe('backup')) backupId: string,
  ): Promise<BackupResponse> {
    return this.backups.get(auth, backupId, id);
  }

  @Delete(':backupId')
  @HttpCode(204)
  @ApiOperation({ summary: 'delete a backup of a cluster', operationId: 'deleteClusterBackup' })
  @ApiNoContentResponse({ description: DELETED })
  @ApiErrors(404, [409, IN_USE])
  remove(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('cluster')) id: string,
    @Param('backupId', new IdPipe('backup')) backupId: string,
  ): Promise<void> {
    return this.backups.remove(auth, backupId, id);
  }
}

/** Every backup of the tenant, those of deleted clusters included. */
@ApiTenantRoutes('tenant: backups')
@TenantRoute()
@Controller('v1/backups')
export class BackupsController {
  constructor(private readonly backups: BackupsService) {}

  @Get()
  @ApiOperation({ summary: "list the tenant's backups, deleted clusters' included", operationId: 'listBackups' })
  @ApiPage(BackupResponse, 'one page, newest first, each with its clusterId')
  list(@Auth() auth: AuthContext, @Query() q: ListQuery): Promise<Page<BackupResponse>> {
    return this.backups.list(auth, q.limit, q.cursor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'get a backup', operationId: 'getBackup' })
  @ApiOkResponse({ type: BackupResponse })
  @ApiErrors(404)
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('backup')) id: string): Promise<BackupResponse> {
    return this.backups.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'delete a backup', operationId: 'deleteBackup' })
  @ApiNoContentResponse({ description: DELETED })
  @ApiErrors(404, [409, IN_USE])
  remove(@Auth() auth: AuthContext, @Param('id', new IdPipe('backup')) id: string): Promise<void> {
    return this.backups.remove(auth, id);
  }
}
