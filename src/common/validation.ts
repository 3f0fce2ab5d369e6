import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { DomainError, ErrorCode, type FieldProblem } from './domain-error.js';

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    if (e.constraints) {
      const problems = Object.entries(e.constraints).map(([rule, text]) =>
        rule === 'whitelistValidation' ? `${field} is not a known field` : text,
      );
      out.push({ field, problems });
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

export function validationErrorFromClassValidator(errors: ValidationError[]): DomainError {
  const details = flatten(errors);
  const message = details.map((d) => d.problems.join('; ')).join('; ') || 'request body is invalid';
  return new DomainError(ErrorCode.ValidationFailed, message, details);
}

/** Far deeper than any request class nests; deeper input would only exhaust the stack. */
export const MAX_BODY_DEPTH = 32;

/** How deeply arrays and objects nest in a parsed JSON value, counted without recursion. */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [v, depth] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/** Keys that class-transformer drops without a word instead of reporting them as unknown. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What class-transformer and PostgreSQL would get wrong, found before they see the value: keys
 * that class-transformer drops without a word (they are unknown fields like any other), and NUL
 * characters, which no text column can hold.
 */
export function hiddenProblems(value: unknown): FieldProblem[] {
  const found: FieldProblem[] = [];
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length > 0) {
    const [v, path] = pending.pop()!;
    if (typeof v === 'string' && v.includes('\u0000')) {
      found.push({ field: path || '(body)', problems: [`${path || 'value'} must not contain NUL characters`] });
    }
    if (v === null || typeof v !== 'object') continue;
    for (const [key, child] of Object.entries(v)) {
      const field = path ? `${path}.${key}` : key;
      if (RESERVED_KEYS.has(key) || key.includes('\u0000')) {
        found.push({ field, problems: [`${field} is not a known field`] });
      } else {
        pending.push([child, field]);
      }
    }
  }
  return found;
}

/**
 * Refuses absurdly nested bodies before class-transformer walks them (recursively), and what
 * `hiddenProblems` finds.
 */
class StrictValidationPipe extends ValidationPipe {
  /**
   * Query classes whose empty query (a list read without parameters, the common case) gives an
   * instance with nothing set, found by validating it once: later empty queries skip
   * class-transformer and class-validator. A class for which it fails or sets something is always
   * validated.
   */
  private readonly emptyQueryIsBare = new WeakMap<object, boolean>();

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const type = metadata.metatype as (new () => object) | undefined;
    if (metadata.type === 'query' && type && value && typeof value === 'object' && Object.keys(value).length === 0) {
      const bare = this.emptyQueryIsBare.get(type);
      if (bare) return new type();
      if (bare === undefined) {
        let result: unknown;
        try {
          result = await this.strictTransform(value, metadata);
        } catch (err) {
          this.emptyQueryIsBare.set(type, false);
          throw err;
        }
        this.emptyQueryIsBare.set(
          type,
          Object.getPrototypeOf(result) === type.prototype && Object.keys(result as object).length === 0,
        );
        return result;
      }
    }
    return this.strictTransform(value, metadata);
  }

  private async strictTransform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && jsonDepth(value, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      const problem = `must not nest deeper than ${MAX_BODY_DEPTH} levels`;
      throw new DomainError(ErrorCode.ValidationFailed, `request body ${problem}`, [
        { field: '(body)', problems: [problem] },
      ]);
    }
    const details = metadata.type === 'body' || metadata.type === 'query' ? hiddenProblems(value) : [];
    if (details.length > 0) {
      throw new DomainError(ErrorCode.ValidationFailed, details.map((d) => d.problems[0]).join('; '), details);
    }
    return super.transform(value, metadata);
  }
}

/** Strict bodies: unknown fields, wrong types and missing fields are all 400 naming the field. */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationErrorFromClassValidator,
  });
}
