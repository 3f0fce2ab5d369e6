import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ApiSignedInRoutes } from '../common/openapi.js';
import { BundlesService } from './bundles.service.js';
import { ControlPlaneListResponse, toControlPlaneResponse } from './control-planes.dto.js';

/** The control-plane bundles a new cluster may name, for any signed-in caller (forms, CLIs). */
@ApiSignedInRoutes('tenant: clusters')
@Controller('v1/control-planes')
export class ControlPlanesController {
  constructor(private readonly bundles: BundlesService) {}

  @Get()
  @ApiOperation({ summary: 'control-plane bundles and their versions', operationId: 'listControlPlanes' })
  @ApiOkResponse({ type: ControlPlaneListResponse })
  list(): ControlPlaneListResponse {
    const items = this.bundles.list().map(toControlPlaneResponse);
    return { items: items.sort((a, b) => a.name.localeCompare(b.name)) };
  }
}
