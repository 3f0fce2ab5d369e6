import 'reflect-metadata';
import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request } from 'express';
import { type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { auditMiddleware } from './audit/audit.middleware.js';
import { AuditService } from './audit/audit.service.js';
import { jsonBodiesOnly } from './common/json-bodies.middleware.js';
import { PinoNestLogger } from './common/logger.js';
import { buildOpenApiDocument } from './common/openapi-document.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/config.js';
import { serveDashboard } from './dashboard/dashboard-assets.js';
import { requestMiddleware } from './platform/http-middleware.js';
import { MetricsService } from './platform/metrics.service.js';

/** Builds the API application (used by main.ts and by the HTTP tests). */
export async function createHttpApp(config: AppConfig, logger: Logger): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger, 'api'), {
    logger: new PinoNestLogger(logger),
    bodyParser: false,
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  answerConditionalGets(app);
  app.use(requestMiddleware(logger, app.get(MetricsService)));
  app.use(auditMiddleware(app.get(AuditService)));
  // The web dashboard at `/`: static files only, so API routes are never shadowed.
  if (!serveDashboard(app)) logger.warn('web/ not found: the dashboard is not served');
  app.use(jsonBodiesOnly());
  app.useBodyParser('json', {
    limit: config.bodyLimit,
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  app.useGlobalPipes(createValidationPipe());
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
  return app;
}

/**
 * Conditional GETs. Express gives every answer a weak ETag made from a hash of its body; a GET or
 * HEAD whose `If-None-Match` names it (or is `*`) is answered 304 without the body: the same tag
 * means the same bytes. A route's own ETag means something else: a cluster's `"<generation>"`
 * stays the same while its phase, conditions and node counts change, so it never makes an answer
 * a 304 (its body would be stale). Unlike Express's own check, a request's `Cache-Control:
 * no-cache` does not skip this (RFC 9110, 13.2: the origin evaluates preconditions; the directive
 * is for caches), since fetch() sends it with every conditional request.
 */
function answerConditionalGets(app: NestExpressApplication): void {
  const request = (app.getHttpAdapter().getInstance() as { request: object }).request;
  Object.defineProperty(request, 'fresh', {
    configurable: true,
    enumerable: true,
    get(this: Request): boolean {
      if (this.method !== 'GET' && this.method !== 'HEAD') return false;
      const status = this.res!.statusCode;
      if ((status < 200 || status >= 300) && status !== 304) return false;
      const tag = this.res!.getHeader('ETag');
      const wanted = this.headers['if-none-match'];
      if (typeof tag !== 'string' || !tag.startsWith('W/') || !wanted) return false;
      return (
        wanted.trim() === '*' ||
        wanted.split(',').some((t) => {
          const candidate = t.trim();
          return candidate === tag || `W/${candidate}` === tag;
        })
      );
    },
  });
}

/**
 * The API's OpenAPI document, as `GET /docs-json` serves it, without starting anything: the same
 * module graph in Nest's preview mode, where nothing is instantiated, so no database or Redis is
 * needed (`npm run openapi` writes it to docs/openapi.json).
 */
export async function createOpenApiDocument(config: AppConfig, logger: Logger): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger, 'api'), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
