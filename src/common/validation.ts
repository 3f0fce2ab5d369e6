import { ValidationPipe, type ValidationError } from '@nestjs/common';
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

/** Strict bodies: unknown fields, wrong types and missing fields are all 400 naming the field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationErrorFromClassValidator,
  });
}
