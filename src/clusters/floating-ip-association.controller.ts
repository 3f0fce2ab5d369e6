import { Body, Controller, HttpCode, Param, Patch } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { IdPipe } from '../common/id.pipe.js';
import { FloatingIpResponse } from '../networks/networks.dto.js';
import { AssociateFloatingIpRequest } from './floating-ip-association.dto.js';
import { FloatingIpAssociationService } from './floating-ip-association.service.js';

/** The floating-IP route that changes a cluster's endpoint (the rest of /v1/floating-ips is in networks). */
@ApiTags('tenant: floating IPs')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/floating-ips')
export class FloatingIpAssociationController {
  constructor(private readonly association: FloatingIpAssociationService) {}

  /** Associates the address with a cluster of the tenant, or releases it (`clusterId: null`). */
  @Patch(':id')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: FloatingIpResponse })
  associate(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('floating IP')) id: string,
    @Body() body: AssociateFloatingIpRequest,
  ): Promise<FloatingIpResponse> {
    return this.association.setCluster(auth, id, body.clusterId);
  }
}
