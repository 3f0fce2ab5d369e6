import { describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode, HTTP_STATUS_BY_CODE } from './domain-error.js';

describe('DomainError', () => {
  it('maps every code to a 4xx or 5xx status', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(HTTP_STATUS_BY_CODE[code]).toBeGreaterThanOrEqual(400);
    }
    expect(HTTP_STATUS_BY_CODE[ErrorCode.QuotaExceeded]).toBe(422);
    expect(HTTP_STATUS_BY_CODE[ErrorCode.Conflict]).toBe(409);
  });

  it('names the field in validation errors', () => {
    const e = DomainError.validation('cidr', 'must be a private range');
    expect(e.message).toBe('cidr: must be a private range');
    expect(e.details).toEqual([{ field: 'cidr', problems: ['must be a private range'] }]);
  });
});
