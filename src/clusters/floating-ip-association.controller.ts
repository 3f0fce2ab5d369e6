import { Body, Controller, HttpCode, Param, Patch } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOperation } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { IdPipe } from '../common/id.pipe.js';
import { ApiErrors, ApiTenantRoutes } from '../common/openapi.js';
import { FloatingIpResponse } from '../networks/networks.dto.js';
import { AssociateFloatingIpRequest } from './floating-ip-association.dto.js';
import { FloatingIpAssociationService } from './floating-ip-association.service.js';

/** The floating-IP route that changes a cluster's endpoint (the rest of /v1/floating-ips is in networks). */
@ApiTenantRoutes('tenant: floating IPs')
@TenantRoute()
@Controller('v1/floating-ips')
export class FloatingIpAssociationController {
  constructor(private readonly association: FloatingIpAssociationService) {}

  /** Associates the address with a cluster of the tenant, or releases it (`clusterId: null`). */
  @Patch(':id')
  @HttpCode(202)
  @ApiOperation({
    summary: 'associate a floating IP with a cluster, or release it from its cluster',
    description: "The cluster's endpoint follows the address.",
    operationId: 'updateFloatingIp',
  })
  @ApiAcceptedResponse({ type: FloatingIpResponse })
  @ApiErrors(
    404,
    [409, 'the address or the cluster is taken, or the cluster is being deleted'],
    [422, "the address is not on the provider network of the cluster's VPC"],
  )
  associate(
    @Auth() auth: AuthContext,
    @Param('id', new IdPipe('floating IP')) id: string,
    @Body() body: AssociateFloatingIpRequest,
  ): Promise<FloatingIpResponse> {
    return this.association.setCluster(auth, id, body.clusterId);
  }
}
