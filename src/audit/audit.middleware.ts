import type { NextFunction, Request, Response } from 'express';
import { requestContext } from '../common/request-context.js';
import type { AuditService } from './audit.service.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Records every write in the audit log before its answer leaves: `res.end` waits for the insert,
 * so a client that got an acknowledgement can rely on the record being there. Only the answer's
 * `id` is read from its body; bodies themselves are never kept.
 */
export function auditMiddleware(audit: AuditService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!WRITES.has(req.method)) return next();
    const store = requestContext.getStore();
    let answerId: unknown;
    const json = res.json.bind(res);
    res.json = (body?: unknown) => {
      if (body && typeof body === 'object' && !Array.isArray(body)) answerId = (body as { id?: unknown }).id;
      return json(body);
    };
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let ended = false;
    res.end = ((...args: unknown[]) => {
      if (ended) return end(...args);
      ended = true;
      const route = (req.route as { path?: unknown } | undefined)?.path;
      void audit
        .record({
          caller: store?.caller,
          auth: store?.auth,
          sourceIp: req.ip,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          routePath: typeof route === 'string' ? route : undefined,
          params: (req.params ?? {}) as Record<string, unknown>,
          answerId,
          statusCode: res.statusCode,
          requestId: store?.requestId ?? String(res.getHeader('x-request-id') ?? ''),
        })
        .finally(() => end(...args));
      return res;
    }) as Response['end'];
    next();
  };
}
