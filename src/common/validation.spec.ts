import { describe, expect, it } from '@jest/globals';
import { IsString } from 'class-validator';
import { DomainError } from './domain-error.js';
import { NamedListQuery } from './pagination.js';
import { createValidationPipe, hiddenProblems, jsonDepth } from './validation.js';

class RequiredQuery {
  @IsString({ message: 'q must be a string' })
  q: string;
}

describe('body checks before class-transformer', () => {
  it('measures nesting without recursion, stopping past the limit', () => {
    expect(jsonDepth('x')).toBe(0);
    expect(jsonDepth({ a: 1 })).toBe(1);
    expect(jsonDepth({ a: { b: [1] } })).toBe(3);
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonDepth(deep, 32)).toBe(33);
  });

  it('names reserved keys and NUL characters at any depth', () => {
    const body = JSON.parse(
      '{"name": "a\\u0000", "__proto__": {"x": 1}, "settings": {"constructor": 1, "ok": "fine"}}',
    ) as unknown;
    expect(
      hiddenProblems(body)
        .map((p) => p.field)
        .sort(),
    ).toEqual(['__proto__', 'name', 'settings.constructor']);
    expect(hiddenProblems({ name: 'web', nodeSpec: { vcpus: 2 } })).toEqual([]);
  });
});

describe('empty queries', () => {
  it('are validated once per class, then answered with a bare instance', async () => {
    const pipe = createValidationPipe();
    const meta = { type: 'query' as const, metatype: NamedListQuery };
    for (let i = 0; i < 3; i++) {
      const q = await pipe.transform({}, meta);
      expect(q).toBeInstanceOf(NamedListQuery);
      expect(Object.keys(q as object)).toEqual([]);
    }
    await expect(pipe.transform({ limit: '5' }, meta)).resolves.toEqual(
      Object.assign(new NamedListQuery(), { limit: 5 }),
    );
    await expect(pipe.transform({ other: '1' }, meta)).rejects.toBeInstanceOf(DomainError);
  });

  it('are refused every time by a class that needs a parameter', async () => {
    const pipe = createValidationPipe();
    for (let i = 0; i < 2; i++)
      await expect(pipe.transform({}, { type: 'query', metatype: RequiredQuery })).rejects.toMatchObject({
        message: 'q must be a string',
      });
  });
});
