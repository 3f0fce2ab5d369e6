import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { AuthContext } from '../common/auth-context.js';
import { AdminOnly, Auth, TenantRoute } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { IdPipe } from '../common/id.pipe.js';
import { ApiErrors, ApiList, ApiOperatorRoutes, ApiPage, ApiTenantRoutes } from '../common/openapi.js';
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

@ApiTenantRoutes('tenant: VPCs')
@TenantRoute()
@Controller('v1/vpcs')
export class VpcsController {
  constructor(private readonly vpcs: VpcsService) {}

  @Post()
  @ApiOperation({ summary: 'create a VPC', operationId: 'createVpc' })
  @ApiCreatedResponse({ type: VpcResponse })
  @ApiErrors(
    [409, 'a VPC of that name exists, or the CIDR overlaps another VPC of the tenant'],
    [422, 'the CIDR overlaps a floating-IP range or a range the operator reserved (named in the message)'],
  )
  create(@Auth() auth: AuthContext, @Body() body: CreateVpcRequest): Promise<VpcResponse> {
    return this.vpcs.create(auth, body.name, body.cidr);
  }

  @Get()
  @ApiOperation({ summary: 'list VPCs', operationId: 'listVpcs' })
  @ApiPage(VpcResponse)
  list(@Auth() auth: AuthContext, @Query() q: NamedListQuery): Promise<Page<VpcResponse>> {
    return this.vpcs.list(auth, q.limit, q.cursor, q.name);
  }

  @Get(':id')
  @ApiOperation({ summary: 'get a VPC', operationId: 'getVpc' })
  @ApiOkResponse({ type: VpcResponse })
  @ApiErrors(404)
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('VPC')) id: string): Promise<VpcResponse> {
    return this.vpcs.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'delete a VPC', operationId: 'deleteVpc' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiErrors(404, [409, 'addresses of it are in use, or a cluster uses it'])
  remove(@Auth() auth: AuthContext, @Param('id', new IdPipe('VPC')) id: string): Promise<void> {
    return this.vpcs.remove(auth, id);
  }
}

@ApiTenantRoutes('tenant: floating IPs')
@TenantRoute()
@Controller('v1/floating-ips')
export class FloatingIpsController {
  constructor(private readonly ips: FloatingIpsService) {}

  @Post()
  @ApiOperation({ summary: 'allocate a floating IP: a free address from any range', operationId: 'allocateFloatingIp' })
  @ApiBody({ type: CreateFloatingIpRequest, required: false })
  @ApiCreatedResponse({ type: FloatingIpResponse })
  @ApiErrors([422, 'over the floating-IP quota, or no free address in any range'])
  allocate(@Auth() auth: AuthContext, @Body(EmptyBodyPipe) _body: object): Promise<FloatingIpResponse> {
    return this.ips.allocate(auth);
  }

  @Get()
  @ApiOperation({ summary: 'list floating IPs', operationId: 'listFloatingIps' })
  @ApiPage(FloatingIpResponse)
  list(@Auth() auth: AuthContext, @Query() q: ListQuery): Promise<Page<FloatingIpResponse>> {
    return this.ips.list(auth, q.limit, q.cursor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'get a floating IP', operationId: 'getFloatingIp' })
  @ApiOkResponse({ type: FloatingIpResponse })
  @ApiErrors(404)
  get(@Auth() auth: AuthContext, @Param('id', new IdPipe('floating IP')) id: string): Promise<FloatingIpResponse> {
    return this.ips.get(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'release a floating IP', operationId: 'releaseFloatingIp' })
  @ApiNoContentResponse({ description: 'released to its range' })
  @ApiErrors(404, [409, 'it is associated with a cluster'])
  release(@Auth() auth: AuthContext, @Param('id', new IdPipe('floating IP')) id: string): Promise<void> {
    return this.ips.release(auth, id);
  }
}

@ApiOperatorRoutes('operator: floating-IP ranges')
@AdminOnly()
@Controller('v1/floating-ip-ranges')
export class FloatingIpRangesController {
  constructor(private readonly ips: FloatingIpsService) {}

  @Post()
  @ApiOperation({ summary: 'add a range of floating IPs', operationId: 'createFloatingIpRange' })
  @ApiCreatedResponse({ type: FloatingIpRangeResponse })
  @ApiErrors([409, 'it overlaps an existing range'], [422, "the range's provider network overlaps tenant VPCs"])
  add(@Body() body: CreateFloatingIpRangeRequest): Promise<FloatingIpRangeResponse> {
    return this.ips.addRange(body);
  }

  @Get()
  @ApiOperation({
    summary: 'list floating-IP ranges with their used and free counts',
    operationId: 'listFloatingIpRanges',
  })
  @ApiList(FloatingIpRangeResponse)
  async list(): Promise<{ items: FloatingIpRangeResponse[] }> {
    return { items: await this.ips.listRanges() };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'remove a floating-IP range', operationId: 'deleteFloatingIpRange' })
  @ApiNoContentResponse({ description: 'removed' })
  @ApiErrors(404, [409, 'addresses of it are allocated'])
  remove(@Param('id', new IdPipe('floating-IP range')) id: string): Promise<void> {
    return this.ips.removeRange(id);
  }
}
