import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { MetricsService } from './metrics.service.js';
import { RateLimitService } from './rate-limit.service.js';
import { ReadinessRegistry } from './readiness.registry.js';
import { TokenBuckets } from './token-buckets.js';

@Global()
@Module({
  controllers: [HealthController],
  providers: [MetricsService, ReadinessRegistry, TokenBuckets, RateLimitService],
  exports: [MetricsService, ReadinessRegistry, RateLimitService],
})
export class PlatformModule {}
