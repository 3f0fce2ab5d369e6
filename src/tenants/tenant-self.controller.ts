import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { ApiErrors, ApiTenantRoutes } from '../common/openapi.js';
import { TenantResponse } from './tenants.dto.js';
import { TenantsService } from './tenants.service.js';

/** What a tenant may read about itself: its name, quota and current usage. */
@ApiTenantRoutes('tenant: account')
@TenantRoute()
@Controller('v1/tenant')
export class TenantSelfController {
  constructor(private readonly tenants: TenantsService) {}

  @Get()
  @ApiOperation({ summary: "the caller's own tenant, with its quota and usage", operationId: 'getOwnTenant' })
  @ApiOkResponse({ type: TenantResponse })
  @ApiErrors([404, 'the operator named a tenant that does not exist'])
  get(@Auth() auth: AuthContext): Promise<TenantResponse> {
    return this.tenants.get(tenantOf(auth));
  }
}
