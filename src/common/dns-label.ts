import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches, MaxLength, MinLength } from 'class-validator';

export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function isDnsLabel(value: string): boolean {
  return value.length >= 1 && value.length <= 63 && DNS_LABEL.test(value);
}

/** A name field: a DNS label, 1-63 lowercase letters, digits and '-', alphanumeric at both ends. */
export function IsDnsLabel(example = 'web'): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ example, minLength: 1, maxLength: 63, pattern: DNS_LABEL.source }),
    IsString({ message: '$property must be a string' }),
    MinLength(1, { message: '$property must not be empty' }),
    MaxLength(63, { message: '$property must be at most 63 characters' }),
    Matches(DNS_LABEL, {
      message:
        '$property must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit',
    }),
  );
}
