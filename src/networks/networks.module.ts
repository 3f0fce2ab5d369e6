import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module.js';
import { FloatingIpsRepository } from './floating-ips.repository.js';
import { FloatingIpsService } from './floating-ips.service.js';
import { IpamRepository } from './ipam.repository.js';
import { FloatingIpRangesController, FloatingIpsController, VpcsController } from './networks.controller.js';
import { VpcsRepository } from './vpcs.repository.js';
import { VpcsService } from './vpcs.service.js';

@Module({
  imports: [TenantsModule],
  controllers: [VpcsController, FloatingIpsController, FloatingIpRangesController],
  providers: [VpcsRepository, IpamRepository, FloatingIpsRepository, VpcsService, FloatingIpsService],
  exports: [VpcsService, FloatingIpsService, VpcsRepository, FloatingIpsRepository],
})
export class NetworksModule {}
