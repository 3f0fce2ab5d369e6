import 'reflect-metadata';
import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { PinoNestLogger } from './common/logger.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/config.js';
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
  app.use(requestMiddleware(logger, app.get(MetricsService)));
  app.useBodyParser('json', {
    limit: config.bodyLimit,
    strict: true,
    type: ['application/json', 'application/*+json'],
  });
  app.useGlobalPipes(createValidationPipe());
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('kaas')
      .setDescription('Kubernetes-as-a-Service on your own KVM hosts')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
