import { describe, expect, it } from '@jest/globals';
import { hiddenProblems, jsonDepth } from './validation.js';

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
