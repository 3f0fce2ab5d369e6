import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { IdPipe } from '../common/id.pipe.js';
import { NamedListQuery } from '../common/pagination.js';
import { CreateHostRequest, CreateImageRequest, HostFaultRequest, HostResponse, ImageResponse } from './hosts.dto.js';
import type { HostInventory } from './backends/index.js';
import { HostsService } from './hosts.service.js';

@ApiTags('operator: hosts and images')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1')
export class HostsController {
  constructor(private readonly hosts: HostsService) {}

  @Post('hosts')
  @ApiCreatedResponse({ type: HostResponse })
  register(@Body() body: CreateHostRequest): Promise<HostResponse> {
    return this.hosts.register(body);
  }

  @Get('hosts')
  async list(@Query() q: NamedListQuery): Promise<{ items: HostResponse[] }> {
    const hosts = await this.hosts.list();
    // Every host in one page (an operator has tens, not thousands); `limit` caps it.
    const named = q.name === undefined ? hosts : hosts.filter((h) => h.name === q.name);
    return { items: named.slice(0, q.limit ?? 1000) };
  }

  @Get('hosts/:id')
  @ApiOkResponse({ type: HostResponse })
  get(@Param('id', new IdPipe('host')) id: string): Promise<HostResponse> {
    return this.hosts.get(id);
  }

  @Get('hosts/:id/inventory')
  inventory(@Param('id', new IdPipe('host')) id: string): Promise<HostInventory> {
    return this.hosts.inventory(id);
  }

  @Delete('hosts/:id')
  @HttpCode(204)
  remove(@Param('id', new IdPipe('host')) id: string): Promise<void> {
    return this.hosts.remove(id);
  }

  @Post('hosts/:id/drain')
  @HttpCode(202)
  drain(@Param('id', new IdPipe('host')) id: string, @Body(EmptyBodyPipe) _b: object): Promise<HostResponse> {
    return this.hosts.drain(id);
  }

  @Post('hosts/:id/undrain')
  @HttpCode(200)
  undrain(@Param('id', new IdPipe('host')) id: string, @Body(EmptyBodyPipe) _b: object): Promise<HostResponse> {
    return this.hosts.undrain(id);
  }

  @Post('hosts/:id/faults')
  @HttpCode(202)
  async fault(
    @Param('id', new IdPipe('host')) id: string,
    @Body() body: HostFaultRequest,
  ): Promise<{ accepted: true }> {
    await this.hosts.injectFault(id, body.nodeId, body.fault, body.cpuPercent);
    return { accepted: true };
  }

  @Post('images')
  @ApiCreatedResponse({ type: ImageResponse })
  registerImage(@Body() body: CreateImageRequest): Promise<ImageResponse> {
    return this.hosts.registerImage(body);
  }

  @Get('images')
  async listImages(): Promise<{ items: ImageResponse[] }> {
    return { items: await this.hosts.listImages() };
  }
}
