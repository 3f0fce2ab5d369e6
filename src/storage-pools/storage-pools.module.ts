import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module.js';
import { StoragePoolsController } from './storage-pools.controller.js';
import { StoragePoolsRepository } from './storage-pools.repository.js';
import { StoragePoolsService } from './storage-pools.service.js';

@Module({
  imports: [TenantsModule],
  controllers: [StoragePoolsController],
  providers: [StoragePoolsRepository, StoragePoolsService],
  exports: [StoragePoolsRepository, StoragePoolsService],
})
export class StoragePoolsModule {}
