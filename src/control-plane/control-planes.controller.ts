import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BundlesService } from './bundles.service.js';
import { ControlPlaneListResponse, toControlPlaneResponse } from './control-planes.dto.js';

/** The control-plane bundles a new cluster may name, for any signed-in caller (forms, CLIs). */
@ApiTags('tenant: clusters')
@ApiBearerAuth()
@Controller('v1/control-planes')
export class ControlPlanesController {
  constructor(private readonly bundles: BundlesService) {}

  @Get()
  @ApiOperation({ summary: 'control-plane bundles and their versions' })
  @ApiOkResponse({ type: ControlPlaneListResponse })
  list(): ControlPlaneListResponse {
    const items = this.bundles.list().map(toControlPlaneResponse);
    return { items: items.sort((a, b) => a.name.localeCompare(b.name)) };
  }
}
