import type { NextFunction, Request, Response } from 'express';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The API speaks JSON only: a write that carries a body of another type is refused with 415
 * instead of being read as no body at all. The error has the shape of a body-parser error, so
 * the exception filter answers it like the parser's own.
 */
export function jsonBodiesOnly() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!WRITES.has(req.method)) return next();
    // No body at all, or an empty one (fetch sends `Content-Length: 0` and no type for a POST
    // without a body, and routes such as POST /v1/tenants/:id/api-keys take none): nothing to
    // refuse. req.is() is null when the request has no body.
    const empty = req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined;
    const json = req.is(['application/json', 'application/*+json']);
    if (empty || json === null || json !== false) return next();
    const type = String(req.headers['content-type'] ?? 'none').slice(0, 100);
    next(
      Object.assign(new Error(`request bodies must be JSON (Content-Type: application/json), got ${type}`), {
        type: 'content-type.unsupported',
        status: 415,
        statusCode: 415,
        expose: true,
      }),
    );
  };
}
