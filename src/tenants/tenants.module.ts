import { Module } from '@nestjs/common';
import { ApiKeysRepository } from './api-keys.repository.js';
import { AuthService } from './auth.service.js';
import { QuotaService } from './quota.service.js';
import { TenantSelfController } from './tenant-self.controller.js';
import { TenantsController } from './tenants.controller.js';
import { TenantsRepository } from './tenants.repository.js';
import { TenantsService } from './tenants.service.js';

@Module({
  controllers: [TenantsController, TenantSelfController],
  providers: [TenantsRepository, ApiKeysRepository, TenantsService, QuotaService, AuthService],
  exports: [QuotaService, AuthService, TenantsRepository],
})
export class TenantsModule {}
