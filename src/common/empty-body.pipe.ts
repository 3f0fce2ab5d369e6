import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError, ErrorCode } from './domain-error.js';

/** For writes whose body is `{}` (or absent): any field at all is an unknown field. */
@Injectable()
export class EmptyBodyPipe implements PipeTransform<unknown, Record<string, never>> {
  transform(value: unknown): Record<string, never> {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new DomainError(ErrorCode.ValidationFailed, 'request body must be a JSON object', [
        { field: '(body)', problems: ['must be a JSON object'] },
      ]);
    }
    const fields = Object.keys(value);
    if (fields.length > 0) {
      const details = fields.map((field) => ({ field, problems: [`${field} is not a known field`] }));
      throw new DomainError(ErrorCode.ValidationFailed, details.map((d) => d.problems[0]).join('; '), details);
    }
    return {};
  }
}
