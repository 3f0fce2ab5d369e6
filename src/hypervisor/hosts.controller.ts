import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { IdPipe } from '../common/id.pipe.js';
import { ApiEmptyBody, ApiErrors, ApiList, ApiOperatorRoutes } from '../common/openapi.js';
import { NamedListQuery } from '../common/pagination.js';
import {
  CreateHostRequest,
  CreateImageRequest,
  FaultAcceptedResponse,
  HostFaultRequest,
  HostInventoryResponse,
  HostResponse,
  ImageResponse,
} from './hosts.dto.js';
import { HostsService } from './hosts.service.js';

@ApiOperatorRoutes('operator: hosts and images')
@AdminOnly()
@Controller('v1')
export class HostsController {
  constructor(private readonly hosts: HostsService) {}

  @Post('hosts')
  @ApiOperation({ summary: 'register a host by its libvirt URI', operationId: 'createHost' })
  @ApiCreatedResponse({ type: HostResponse })
  @ApiErrors([409, 'a host of that name or URI exists'], [422, 'the URI does not connect'])
  register(@Body() body: CreateHostRequest): Promise<HostResponse> {
    return this.hosts.register(body);
  }

  @Get('hosts')
  @ApiOperation({ summary: 'list hosts with their capacity and allocation', operationId: 'listHosts' })
  @ApiList(HostResponse, 'every host (`limit` caps the count; there is no next page)')
  @ApiErrors(400)
  async list(@Query() q: NamedListQuery): Promise<{ items: HostResponse[] }> {
    const hosts = await this.hosts.list();
    // Every host in one page (an operator has tens, not thousands); `limit` caps it.
    const named = q.name === undefined ? hosts : hosts.filter((h) => h.name === q.name);
    return { items: named.slice(0, q.limit ?? 1000) };
  }

  @Get('hosts/:id')
  @ApiOperation({ summary: 'get a host', operationId: 'getHost' })
  @ApiOkResponse({ type: HostResponse })
  @ApiErrors(404)
  get(@Param('id', new IdPipe('host')) id: string): Promise<HostResponse> {
    return this.hosts.get(id);
  }

  @Get('hosts/:id/inventory')
  @ApiOperation({ summary: 'the VMs and volumes the platform has on a host', operationId: 'getHostInventory' })
  @ApiOkResponse({ type: HostInventoryResponse })
  @ApiErrors(404, [503, 'the host did not answer'])
  inventory(@Param('id', new IdPipe('host')) id: string): Promise<HostInventoryResponse> {
    return this.hosts.inventory(id);
  }

  @Delete('hosts/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'remove a host', operationId: 'deleteHost' })
  @ApiNoContentResponse({ description: 'removed' })
  @ApiErrors(404, [409, 'nodes still run on it: drain it first'])
  remove(@Param('id', new IdPipe('host')) id: string): Promise<void> {
    return this.hosts.remove(id);
  }

  @Post('hosts/:id/drain')
  @HttpCode(202)
  @ApiOperation({ summary: 'drain a host: no new nodes, and its nodes move elsewhere', operationId: 'drainHost' })
  @ApiEmptyBody()
  @ApiAcceptedResponse({ type: HostResponse, description: 'Draining until its last node has left, then Drained' })
  @ApiErrors(404)
  drain(@Param('id', new IdPipe('host')) id: string, @Body(EmptyBodyPipe) _b: object): Promise<HostResponse> {
    return this.hosts.drain(id);
  }

  @Post('hosts/:id/undrain')
  @HttpCode(200)
  @ApiOperation({ summary: 'let a drained host take new nodes again', operationId: 'undrainHost' })
  @ApiEmptyBody()
  @ApiOkResponse({ type: HostResponse })
  @ApiErrors(404)
  undrain(@Param('id', new IdPipe('host')) id: string, @Body(EmptyBodyPipe) _b: object): Promise<HostResponse> {
    return this.hosts.undrain(id);
  }

  @Post('hosts/:id/faults')
  @HttpCode(202)
  @ApiOperation({
    summary: 'inject a fault into a simulated host or one of its guests',
    description: "Only for hosts on libvirt's test driver (`test:///...`, `test+unix:///...`).",
    operationId: 'injectHostFault',
  })
  @ApiAcceptedResponse({ type: FaultAcceptedResponse })
  @ApiErrors(404, [422, 'the host is not simulated'])
  async fault(
    @Param('id', new IdPipe('host')) id: string,
    @Body() body: HostFaultRequest,
  ): Promise<FaultAcceptedResponse> {
    await this.hosts.injectFault(id, body.nodeId, body.fault, body.cpuPercent);
    return { accepted: true };
  }

  @Post('images')
  @ApiOperation({ summary: 'register a guest image', operationId: 'createImage' })
  @ApiCreatedResponse({ type: ImageResponse })
  @ApiErrors([409, 'an image of that name exists'])
  registerImage(@Body() body: CreateImageRequest): Promise<ImageResponse> {
    return this.hosts.registerImage(body);
  }

  @Get('images')
  @ApiOperation({ summary: 'list guest images', operationId: 'listImages' })
  @ApiList(ImageResponse)
  async listImages(): Promise<{ items: ImageResponse[] }> {
    return { items: await this.hosts.listImages() };
  }
}
