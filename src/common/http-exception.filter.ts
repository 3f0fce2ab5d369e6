import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { DomainError, ErrorCode, HTTP_STATUS_BY_CODE } from './domain-error.js';
import { currentRequestId } from './request-context.js';
import { APP_LOGGER } from './tokens.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: ErrorCode;
  message: string;
  details?: unknown;
  requestId: string;
}

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  limit?: number;
}

/** Turns anything thrown into the one JSON error body; unexpected errors are logged once. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(@Inject(APP_LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const requestId = currentRequestId() ?? String(res.getHeader('x-request-id') ?? '');
    const { code, message, details, status } = this.describe(exception, req);
    const body: ErrorBody = {
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      code,
      message,
      ...(details === undefined ? {} : { details }),
      requestId,
    };
    if (res.headersSent) return;
    res.status(status).json(body);
  }

  private describe(
    exception: unknown,
    req: Request,
  ): { code: ErrorCode; message: string; details?: unknown; status: number } {
    if (exception instanceof DomainError) {
      return {
        code: exception.code,
        message: exception.message,
        details: exception.details,
        status: HTTP_STATUS_BY_CODE[exception.code],
      };
    }
    // Express body-parser errors arrive wrapped in an HttpException with the original as cause.
    const parserError = (
      exception instanceof HttpException && exception.cause ? exception.cause : exception
    ) as BodyParserError;
    if (parserError && typeof parserError === 'object' && typeof parserError.type === 'string') {
      if (parserError.type === 'entity.parse.failed') {
        return { code: ErrorCode.MalformedBody, message: 'request body is not valid JSON', status: 400 };
      }
      if (parserError.type === 'entity.too.large') {
        return {
          code: ErrorCode.PayloadTooLarge,
          message: `request body is larger than the limit of ${parserError.limit ?? '?'} bytes`,
          status: 413,
        };
      }
      if (parserError.type === 'content-type.unsupported') {
        return { code: ErrorCode.MalformedBody, message: (parserError as Error).message, status: 415 };
      }
      if (parserError.type === 'encoding.unsupported' || parserError.type === 'charset.unsupported') {
        return { code: ErrorCode.MalformedBody, message: 'request body encoding is not supported', status: 415 };
      }
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : typeof response === 'object' && response !== null && 'message' in response
            ? String((response as { message: unknown }).message)
            : exception.message;
      const code =
        status === 404
          ? ErrorCode.NotFound
          : status === 401
            ? ErrorCode.Unauthenticated
            : status === 403
              ? ErrorCode.Forbidden
              : status === 413
                ? ErrorCode.PayloadTooLarge
                : status === 429
                  ? ErrorCode.RateLimited
                  : status >= 500
                    ? ErrorCode.Internal
                    : ErrorCode.ValidationFailed;
      return { code, message: status === 404 ? `no route for ${req.method} ${req.path}` : message, status };
    }
    this.logger.error({ err: exception, method: req.method, path: req.path }, 'unexpected error');
    return { code: ErrorCode.Internal, message: 'internal error; quote the request id when reporting it', status: 500 };
  }
}
