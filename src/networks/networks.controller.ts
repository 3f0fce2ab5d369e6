import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { AdminOnly, Auth, TenantRoute } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { IdPipe } from '../common/id.pipe.js';
import { ListQuery, NamedListQuery, type Page } from '../common/pagination.js';
import { FloatingIpsService } from './floating-ips.service.js';
import {
  CreateFloatingIpRangeRequest,
  CreateFloatingIpRequest,
  CreateVpcRequest,
  FloatingIpRangeResponse,
  FloatingIpResponse,
  VpcResponse,
} from './networks.dto.js';
import { VpcsService } from './vpcs.service.js';

@ApiTags('tenant: VPCs')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/vpcs')
export class VpcsController {
  constructor(private readonly vpcs: VpcsService) {}

  @Post()
  @ApiCreatedResponse({ type: VpcResponse })
  create(@Auth() auth: AuthContext, @Body() body: CreateVpcRequest): Promise<VpcResponse> {
    return this.vpcs.create(auth, body.name, body.cidr);
  }

  @Get()
  list(@Auth() auth: AuthContext, @Query() q: NamedListQuery): Promise<Page<VpcResponse>> {
    return this.vpcs.list(auth, q.limit, q.cursor, q.name);
  }

  @Get(':id')
  @ApiOkResponse({ type: VpcResponse })
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('VPC')) id: string): Promise<VpcResponse> {
    return this.vpcs.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Auth() auth: AuthContext, @Param('id', new IdPipe('VPC')) id: string): Promise<void> {
    return this.vpcs.remove(auth, id);
  }
}

@ApiTags('tenant: floating IPs')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Kaas-Tenant', required: false, description: 'operator only: the tenant to act for' })
@TenantRoute()
@Controller('v1/floating-ips')
export class FloatingIpsController {
  constructor(private readonly ips: FloatingIpsService) {}

  @Post()
  @ApiBody({ type: CreateFloatingIpRequest, required: false })
  @ApiCreatedResponse({ type: FloatingIpResponse })
  allocate(@Auth() auth: AuthContext, @Body(EmptyBodyPipe) _body: object): Promise<FloatingIpResponse> {
    return this.ips.allocate(auth);
  }

  @Get()
  list(@Auth() auth: AuthContext, @Query() q: ListQuery): Promise<Page<FloatingIpResponse>> {
    return this.ips.list(auth, q.limit, q.cursor);
  }

  @Get(':id')
  @ApiOkResponse({ type: FloatingIpResponse })
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('floating IP')) id: string): Promise<FloatingIpResponse> {
    return this.ips.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  release(@Auth() auth: AuthContext, @Param('id', new IdPipe('floating IP')) id: string): Promise<void> {
    return this.ips.release(auth, id);
  }
}

@ApiTags('operator: floating-IP ranges')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1/floating-ip-ranges')
export class FloatingIpRangesController {
  constructor(private readonly ips: FloatingIpsService) {}

  @Post()
  @ApiCreatedResponse({ type: FloatingIpRangeResponse })
  add(@Body() body: CreateFloatingIpRangeRequest): Promise<FloatingIpRangeResponse> {
    return this.ips.addRange(body);
  }

  @Get()
  async list(): Promise<{ items: FloatingIpRangeResponse[] }> {
    return { items: await this.ips.listRanges() };
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id', new IdPipe('floating-IP range')) id: string): Promise<void> {
    return this.ips.removeRange(id);
  }
}
