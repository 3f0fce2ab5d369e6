import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { IdPipe } from '../common/id.pipe.js';
import { ApiErrors, ApiList, ApiOperatorRoutes, ApiPage } from '../common/openapi.js';
import { NamedListQuery, type Page } from '../common/pagination.js';
import {
  ApiKeyCreatedResponse,
  ApiKeyResponse,
  CreateApiKeyRequest,
  CreatedTenantResponse,
  CreateTenantRequest,
  SetQuotaRequest,
  TenantResponse,
} from './tenants.dto.js';
import { TenantsService } from './tenants.service.js';

@ApiOperatorRoutes('operator: tenants')
@AdminOnly()
@Controller('v1')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post('tenants')
  @ApiOperation({ summary: 'create a tenant and its first API key', operationId: 'createTenant' })
  @ApiCreatedResponse({ type: CreatedTenantResponse, description: 'the API key is shown this once' })
  @ApiErrors([409, 'a tenant of that name exists'])
  create(@Body() body: CreateTenantRequest): Promise<CreatedTenantResponse> {
    return this.tenants.create(body.name);
  }

  @Get('tenants')
  @ApiOperation({ summary: 'list tenants, with quota and usage', operationId: 'listTenants' })
  @ApiPage(TenantResponse)
  @ApiErrors(400)
  list(@Query() query: NamedListQuery): Promise<Page<TenantResponse>> {
    return this.tenants.list(query.limit, query.cursor, query.name);
  }

  @Get('tenants/:id')
  @ApiOperation({ summary: 'get a tenant, with quota and usage', operationId: 'getTenant' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiErrors(404)
  get(@Param('id', new IdPipe('tenant')) id: string): Promise<TenantResponse> {
    return this.tenants.get(id);
  }

  @Put('tenants/:id/quota')
  @ApiOperation({ summary: "set a tenant's quota", operationId: 'setTenantQuota' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiErrors(404)
  setQuota(@Param('id', new IdPipe('tenant')) id: string, @Body() body: SetQuotaRequest): Promise<TenantResponse> {
    return this.tenants.setQuota(id, { ...body });
  }

  @Post('tenants/:id/api-keys')
  @ApiOperation({ summary: 'create another API key of a tenant', operationId: 'createTenantApiKey' })
  @ApiBody({ type: CreateApiKeyRequest, required: false })
  @ApiCreatedResponse({ type: ApiKeyCreatedResponse, description: 'the key is shown this once' })
  @ApiErrors(404)
  createKey(
    @Param('id', new IdPipe('tenant')) id: string,
    @Body() body: CreateApiKeyRequest,
  ): Promise<ApiKeyCreatedResponse> {
    return this.tenants.createApiKey(id, body.description);
  }

  @Get('tenants/:id/api-keys')
  @ApiOperation({ summary: "list a tenant's API keys (never the keys themselves)", operationId: 'listTenantApiKeys' })
  @ApiList(ApiKeyResponse)
  @ApiErrors(404)
  async listKeys(@Param('id', new IdPipe('tenant')) id: string): Promise<{ items: ApiKeyResponse[] }> {
    return { items: await this.tenants.listApiKeys(id) };
  }

  @Delete('tenants/:id/api-keys/:keyId')
  @HttpCode(204)
  @ApiOperation({ summary: "revoke one of a tenant's API keys, at once", operationId: 'revokeTenantApiKey' })
  @ApiNoContentResponse({ description: 'revoked' })
  @ApiErrors(404)
  revokeKey(
    @Param('id', new IdPipe('tenant')) id: string,
    @Param('keyId', new IdPipe('api key')) keyId: string,
  ): Promise<void> {
    return this.tenants.revokeApiKey(id, keyId);
  }

  @Post('admin-tokens')
  @ApiOperation({ summary: 'create another admin token', operationId: 'createAdminToken' })
  @ApiBody({ type: CreateApiKeyRequest, required: false })
  @ApiCreatedResponse({ type: ApiKeyCreatedResponse, description: 'the token is shown this once' })
  createAdminToken(@Body() body: CreateApiKeyRequest): Promise<ApiKeyCreatedResponse> {
    return this.tenants.createAdminToken(body.description);
  }

  @Delete('admin-tokens/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'revoke an admin token, at once', operationId: 'revokeAdminToken' })
  @ApiNoContentResponse({ description: 'revoked' })
  @ApiErrors(404)
  revokeAdminToken(@Param('id', new IdPipe('admin token')) id: string): Promise<void> {
    return this.tenants.revokeAdminToken(id);
  }
}
