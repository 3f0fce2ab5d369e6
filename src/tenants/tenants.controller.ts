import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { IdPipe } from '../common/id.pipe.js';
import { NamedListQuery, type Page } from '../common/pagination.js';
import {
  ApiKeyCreatedResponse,
  type ApiKeyResponse,
  CreateApiKeyRequest,
  CreatedTenantResponse,
  CreateTenantRequest,
  SetQuotaRequest,
  TenantResponse,
} from './tenants.dto.js';
import { TenantsService } from './tenants.service.js';

@ApiTags('operator: tenants')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post('tenants')
  @ApiOkResponse({ type: CreatedTenantResponse })
  create(@Body() body: CreateTenantRequest): Promise<CreatedTenantResponse> {
    return this.tenants.create(body.name);
  }

  @Get('tenants')
  list(@Query() query: NamedListQuery): Promise<Page<TenantResponse>> {
    return this.tenants.list(query.limit, query.cursor, query.name);
  }

  @Get('tenants/:id')
  @ApiOkResponse({ type: TenantResponse })
  get(@Param('id', new IdPipe('tenant')) id: string): Promise<TenantResponse> {
    return this.tenants.get(id);
  }

  @Put('tenants/:id/quota')
  @ApiOkResponse({ type: TenantResponse })
  setQuota(@Param('id', new IdPipe('tenant')) id: string, @Body() body: SetQuotaRequest): Promise<TenantResponse> {
    return this.tenants.setQuota(id, { ...body });
  }

  @Post('tenants/:id/api-keys')
  @ApiOkResponse({ type: ApiKeyCreatedResponse })
  createKey(
    @Param('id', new IdPipe('tenant')) id: string,
    @Body() body: CreateApiKeyRequest,
  ): Promise<ApiKeyCreatedResponse> {
    return this.tenants.createApiKey(id, body.description);
  }

  @Get('tenants/:id/api-keys')
  async listKeys(@Param('id', new IdPipe('tenant')) id: string): Promise<{ items: ApiKeyResponse[] }> {
    return { items: await this.tenants.listApiKeys(id) };
  }

  @Delete('tenants/:id/api-keys/:keyId')
  @HttpCode(204)
  revokeKey(
    @Param('id', new IdPipe('tenant')) id: string,
    @Param('keyId', new IdPipe('api key')) keyId: string,
  ): Promise<void> {
    return this.tenants.revokeApiKey(id, keyId);
  }

  @Post('admin-tokens')
  @ApiOkResponse({ type: ApiKeyCreatedResponse })
  createAdminToken(@Body() body: CreateApiKeyRequest): Promise<ApiKeyCreatedResponse> {
    return this.tenants.createAdminToken(body.description);
  }

  @Delete('admin-tokens/:id')
  @HttpCode(204)
  revokeAdminToken(@Param('id', new IdPipe('admin token')) id: string): Promise<void> {
    return this.tenants.revokeAdminToken(id);
  }
}
