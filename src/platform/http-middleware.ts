import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { requestContext, requestIdFrom } from '../common/request-context.js';
import type { MetricsService } from './metrics.service.js';

/**
 * Gives every request an id (the caller's X-Request-Id when it is sane), runs the rest of the
 * request inside that context so every log line carries it, and records metrics and one access
 * log line when the response is finished.
 */
export function requestMiddleware(logger: Logger, metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    const store = { requestId, sourceIp: req.ip };
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route as { path?: string } | undefined)?.path
        ? `${req.baseUrl}${(req.route as { path: string }).path}`
        : 'unmatched';
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      if (!logger.isLevelEnabled('info')) return;
      requestContext.run(store, () =>
        logger.info(
          { method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, ip: req.ip },
          'request',
        ),
      );
    });
    requestContext.run(store, next);
  };
}
