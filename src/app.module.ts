import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Logger } from 'pino';
import { AuditModule } from './audit/audit.module.js';
import { AuditRetentionModule } from './audit/audit-retention.module.js';
import { AuthGuard } from './common/auth.guard.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { IdempotencyInterceptor } from './common/idempotency.interceptor.js';
import { IdempotencyPruner } from './common/idempotency-pruner.js';
import type { AppConfig } from './config/config.js';
import { CoreModule } from './config/core.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { PlatformModule } from './platform/platform.module.js';
import { BackupsModule } from './backups/backups.module.js';
import { ClustersModule } from './clusters/clusters.module.js';
import { ControlPlaneModule } from './control-plane/control-plane.module.js';
import { EventsModule } from './events/events.module.js';
import { HypervisorModule } from './hypervisor/hypervisor.module.js';
import { NetworksModule } from './networks/networks.module.js';
import { NodesModule } from './nodes/nodes.module.js';
import { ReconcilersModule } from './reconcilers/reconcilers.module.js';
import { SecretKeysModule } from './secret-keys/secret-keys.module.js';
import { StoragePoolsModule } from './storage-pools/storage-pools.module.js';
import { TenantsModule } from './tenants/tenants.module.js';

/** The domain modules, shared by the API and the worker process. */
export const DOMAIN_MODULES = [
  TenantsModule,
  StoragePoolsModule,
  NetworksModule,
  HypervisorModule,
  EventsModule,
  NodesModule,
  ControlPlaneModule,
  ClustersModule,
  BackupsModule,
  ReconcilersModule,
];

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: Logger, role: 'api' | 'worker'): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger),
        JobsModule,
        PlatformModule,
        // The audit log's prune runs in the workers too, which serve no audit routes.
        AuditRetentionModule,
        ...DOMAIN_MODULES,
        ...(role === 'api' ? [AuditModule, SecretKeysModule] : []),
      ],
      controllers: [],
      providers: [
        IdempotencyPruner,
        ...(role === 'api'
          ? [
              { provide: APP_GUARD, useClass: AuthGuard },
              { provide: APP_FILTER, useClass: HttpExceptionFilter },
              { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
            ]
          : []),
      ],
    };
  }
}
