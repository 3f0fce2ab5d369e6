import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { TenantResponse } from './tenants.dto.js';
import { TenantsService } from './tenants.service.js';

/** What a tenant may read about itself: its name, quota and current usage. */
@ApiTags('tenant: account')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/tenant')
export class TenantSelfController {
  constructor(private readonly tenants: TenantsService) {}

  @Get()
  @ApiOperation({ summary: "the caller's own tenant, with its quota and usage" })
  @ApiOkResponse({ type: TenantResponse })
  get(@Auth() auth: AuthContext): Promise<TenantResponse> {
    return this.tenants.get(tenantOf(auth));
  }
}
