/**
 * Hostile inputs for the API fuzz test, drawn with a seeded PRNG so a failure can be replayed
 * (`FUZZ_SEED=<n>`). Every hostile string carries the marker "fuzz" (in some spelling) so that
 * whatever reaches the hypervisor can be searched for.
 */
export const MARKER = /fuzz|ｆｕｚｚ|𝔣𝔲𝔷𝔷/i;

/** mulberry32: small, fast, good enough to pick inputs. */
export class Prng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export const HOSTILE_STRINGS: readonly string[] = [
  '<fuzz/>',
  '</name><fuzz>',
  '<![CDATA[fuzz]]>',
  '&fuzz;',
  '&lt;fuzz&gt;',
  "fuzz'--",
  '"fuzz"',
  '$(fuzz)',
  '`fuzz`',
  'fuzz; rm -rf /',
  'fuzz | id',
  'fuzz && id',
  '${fuzz}',
  '{{fuzz}}',
  '../../etc/passwd/fuzz',
  '..\\..\\fuzz',
  '%2e%2e%2ffuzz',
  'fuzz\u0000nul',
  '\u202efuzz\u202d',
  'fu\u200bzz',
  'fuzz😈',
  '𝔣𝔲𝔷𝔷',
  'ｆｕｚｚ',
  'fuzz\u0645\u0631\u062d\u0628\u0627',
  'FUZZ',
  ' fuzz ',
  'fuzz\r\nX-Injected: 1',
  'fuzz\n<domain type="kvm">',
  'fuzz'.repeat(3000),
  'a'.repeat(64) + 'fuzz',
  'web-fuzz-',
];

export const HOSTILE_NUMBERS: readonly unknown[] = [
  -1,
  0,
  0.5,
  -0.5,
  1.0000001,
  1e308,
  -1e308,
  2 ** 53 + 2,
  99999999999,
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '0x10',
  '10',
  ' 1',
];

export const HOSTILE_SHAPES: readonly unknown[] = [
  null,
  true,
  false,
  [],
  [1],
  ['fuzz'],
  {},
  { fuzz: { deeper: { still: ['fuzz'] } } },
  { $ref: '#/fuzz' },
];

/** Raw bodies that are not JSON, or are JSON no DTO accepts. */
export const MALFORMED_BODIES: readonly string[] = [
  '{"name": "fuzz',
  '{name: fuzz}',
  "{'name': 'fuzz'}",
  '{"name": "fuzz"}{"x": 1}',
  '\u0000',
  '',
  'null',
  '"fuzz"',
  '12',
  '['.repeat(3000) + ']'.repeat(3000),
  '{"capacityGiB": 1e309, "name": "fuzz"}',
  '{"__proto__": {"polluted": "fuzz"}}',
  '{"constructor": {"prototype": {"polluted": "fuzz"}}}',
  '{"name": "\\ud800fuzz"}',
];

export const WRONG_CONTENT: readonly [string, string][] = [
  ['text/plain', '{"name": "fuzz"}'],
  ['application/xml', '<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><fuzz>&x;</fuzz>'],
  ['application/x-www-form-urlencoded', 'name=fuzz&capacityGiB=1'],
  ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nfuzz\r\n--x--'],
  ['application/json; charset=utf-16', '{"name": "fuzz"}'],
  ['application/json; charset=latin1', '{"name": "fuzz"}'],
];

/** Path segments that are not ids: sent as typed (the URL parser may resolve some) or encoded. */
export const HOSTILE_IDS: readonly { raw: string; encode: boolean }[] = [
  { raw: '../../etc/passwd', encode: false },
  { raw: '../../etc/passwd', encode: true },
  { raw: '%2e%2e%2f%2e%2e%2fetc%2fpasswd', encode: false },
  { raw: '%2e%2e', encode: false },
  { raw: '..%252f..%252ffuzz', encode: false },
  { raw: '%E0%A4%A', encode: false },
  { raw: '%00fuzz', encode: false },
  { raw: 'fuzz'.repeat(600), encode: false },
  { raw: '00000000-0000-0000-0000-000000000000', encode: false },
  { raw: 'FFFFFFFF-FFFF-4FFF-8FFF-FFFFFFFFFFFF', encode: false },
  { raw: '1', encode: false },
  { raw: '-1', encode: false },
  { raw: 'null', encode: false },
  { raw: '<fuzz>', encode: true },
  { raw: '$(fuzz)', encode: true },
  { raw: 'fuzz;id', encode: true },
  { raw: 'fuzz😈', encode: true },
  { raw: '\u202efuzz', encode: true },
];

export const HOSTILE_QUERIES: readonly string[] = [
  'limit=-1',
  'limit=0',
  'limit=1.5',
  'limit=NaN',
  'limit=1e309',
  'limit=99999999999999999999',
  'limit=1&limit=2',
  'limit[]=1',
  'limit=%00',
  'limit=fuzz',
  'cursor=fuzz',
  `cursor=${'f'.repeat(5000)}`,
  'cursor=&limit=',
  `cursor=${Buffer.from('{"id": "fuzz"}').toString('base64url')}`,
  `cursor=${Buffer.from('{"id": 5, "name": ["fuzz"]}').toString('base64url')}`,
  `cursor=${Buffer.from('{"name": "fuzz\'--", "id": "1 OR 1=1"}').toString('base64url')}`,
  `cursor=${Buffer.from('{"id": "99999999999999999999999", "name": "z"}').toString('base64url')}`,
  `cursor=${Buffer.from('{"id": "1\\u0000", "name": "fuzz\\u0000"}').toString('base64url')}`,
  `cursor=${Buffer.from('null').toString('base64url')}`,
  `cursor=${Buffer.from('{"id": "00000000-0000-0000-0000-00000000000g", "name": "a"}').toString('base64url')}`,
  'fuzz=1',
  '__proto__[polluted]=fuzz',
  'tenantId=fuzz',
  'outcome=fuzz',
  'since=fuzz',
  'since=99999-01-01',
];

/** A value a schema would accept, used as the base that single fields are then spoiled in. */
export function validValue(schema: Schema, doc: OpenApiDoc, name: string, ids: Record<string, string>): unknown {
  const s = resolve(schema, doc);
  if (s.enum?.length) return s.enum[0];
  if (s.format === 'uuid') return ids[name] ?? '11111111-1111-4111-8111-111111111111';
  if (s.example !== undefined) return s.example;
  if (s.type === 'integer' || s.type === 'number') return s.minimum ?? 1;
  if (s.type === 'boolean') return false;
  if (s.type === 'array') return [];
  if (s.type === 'object' || s.properties) {
    const out: Record<string, unknown> = {};
    for (const key of s.required ?? []) out[key] = validValue(s.properties![key], doc, key, ids);
    return out;
  }
  return 'a1';
}

export interface Schema {
  $ref?: string;
  allOf?: Schema[];
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  minimum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export interface Operation {
  tags?: string[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

export function resolve(schema: Schema, doc: OpenApiDoc): Schema {
  if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.split('/').pop()!], doc);
  if (schema.allOf?.length === 1) return resolve(schema.allOf[0], doc);
  return schema;
}
