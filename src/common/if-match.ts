import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from './domain-error.js';

/**
 * What a request's `If-Match` header asks for (RFC 9110, 13.1.1): undefined without one, `*`
 * for any current version, else the entity tags it lists. Clusters answer `ETag: "<generation>"`.
 */
export type IfMatch = undefined | '*' | string[];

export function parseIfMatch(header: string | string[] | undefined): IfMatch {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(',') : header).trim();
  if (value === '*') return '*';
  return value
    .split(',')
    .map((t) =>
      t
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((t) => t !== '');
}

/** 412 unless `If-Match` is absent, `*`, or names the resource's current version. */
export function checkIfMatch(ifMatch: IfMatch, current: number | string, what: string): void {
  if (ifMatch === undefined || ifMatch === '*') return;
  if (ifMatch.includes(String(current))) return;
  throw DomainError.preconditionFailed(
    `${what} is at generation ${current}, not ${ifMatch.map((t) => `"${t}"`).join(', ') || 'an empty If-Match'}: read it again and retry`,
    { field: 'If-Match', current: `"${current}"` },
  );
}

/** The request's `If-Match`, parsed. */
export const IfMatchHeader = createParamDecorator((_data: unknown, ctx: ExecutionContext): IfMatch =>
  parseIfMatch(ctx.switchToHttp().getRequest<Request>().headers['if-match']),
);
