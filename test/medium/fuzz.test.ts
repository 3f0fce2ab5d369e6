import { testNorthbound } from '../support/northbound-per-file.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HostLeases } from '../../src/hypervisor/host-leases.service.js';
import {
  HOSTILE_IDS,
  HOSTILE_NUMBERS,
  HOSTILE_QUERIES,
  HOSTILE_SHAPES,
  HOSTILE_STRINGS,
  MALFORMED_BODIES,
  MARKER,
  type OpenApiDoc,
  type Operation,
  Prng,
  resolve,
  type Schema,
  validValue,
  WRONG_CONTENT,
} from '../support/fuzz-inputs.js';
import {
  clusterBody,
  type Platform,
  startPlatform,
  type TenantSetup,
  tenantWithInfra,
  waitForPhase,
} from '../support/platform.js';
import type { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';

/**
 * Every route of the OpenAPI document, fed hostile input: the answer is a 4xx with the error body
 * (or a 2xx when the input happens to be valid), never a 5xx or a stack trace; afterwards nothing
 * hostile has reached the hypervisor. New routes are covered as soon as they are in the document.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const CASES_PER_OPERATION = 10;
/** Put in every string field of every request body, one at a time. */
const SWEPT_STRINGS = ['$(fuzz)', '<fuzz a="&amp;"/>', 'fuzz`id`;\u202e\u200b😈', 'fuzz\u0000'];
/** A frame of a JavaScript stack trace (also JSON-escaped), or a source file position. */
const STACK = /(^|\n|\\n)\s*at [\w$.<>\s]*\(?(file:\/\/)?\/[^\s)]+:\d+:\d+|node_modules\/|\.[cm]?[jt]s:\d+:\d+/;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const NAMES: Record<string, RegExp> = {
  domain: new RegExp(`^kaas-node-${UUID}$`),
  northbound: /^northbound$/,
  pool: new RegExp(`^kaas-(pool-${UUID}|platform)$`),
  volume: new RegExp(`^kaas-(node-${UUID}\\.qcow2|seed-${UUID}\\.iso|bundle-[a-z0-9.-]+\\.iso|backup-${UUID}\\.db)$`),
};
const HOSTILE_CHARACTERS = ['\u202e', '\u200b', '😈', '\u0000', '$(', '`', '../..', '&amp;fuzz', '&lt;fuzz'];

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  what: string;
  mustRefuse: boolean;
}

describe(`API fuzzing from the OpenAPI document (FUZZ_SEED=${SEED})`, () => {
  let p: Platform;
  let s: TenantSetup;
  let doc: OpenApiDoc;
  const known: Record<string, string> = {};
  const spareFloatingIps: string[] = [];
  let created = 0;

  beforeAll(async () => {
    // The fuzzer sends bad tokens on purpose; the failed-authentication limit would stop it early,
    // and it sends faster than a key's 100 requests per second (the limits have tests of their own).
    p = await startPlatform({ KAAS_RATE_LIMIT_AUTH_FAILURES: '0', KAAS_RATE_LIMIT_PER_KEY: '1000000' });
    s = await tenantWithInfra(p, 'target');
    const cluster = await s.client.call('POST', '/v1/clusters', clusterBody(s, { workers: 0 }));
    expect(cluster.status).toBe(202);
    await waitForPhase(s.client, cluster.body.id, 'Running');
    const nodes = await s.client.call('GET', `/v1/clusters/${cluster.body.id}/nodes`);
    Object.assign(known, {
      tenants: s.tenantId,
      hosts: p.hostId,
      clusters: cluster.body.id,
      nodeId: nodes.body.items[0].id,
      vpcs: s.vpcId,
      vpcId: s.vpcId,
      'storage-pools': s.poolId,
      storagePoolId: s.poolId,
      'floating-ips': s.floatingIpId,
      floatingIpId: s.floatingIpId,
    });
    for (let i = 0; i < 4; i++) spareFloatingIps.push((await s.client.call('POST', '/v1/floating-ips', {})).body.id);
    doc = (await p.admin.call('GET', '/docs-json')).body as unknown as OpenApiDoc;
  }, 90000);
  afterAll(async () => {
    await p?.close();
  });

  /** A random version-4 UUID drawn from the seeded PRNG, so that a run replays exactly. */
  function uuidFrom(rng: Prng): string {
    const hex = Array.from({ length: 32 }, () => rng.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
  }

  /** A path with its parameters filled: a known id (not for DELETE), a random one, or a hostile one. */
  function fillPath(template: string, method: string, rng: Prng, hostile: boolean): string {
    const segments = template.split('/');
    return segments
      .map((segment, i) => {
        const param = /^\{(\w+)\}$/.exec(segment)?.[1];
        if (!param) return segment;
        if (hostile && rng.chance(0.7)) {
          const h = rng.pick(HOSTILE_IDS);
          return h.encode ? encodeURIComponent(h.raw) : h.raw;
        }
        const id = known[param] ?? known[segments[i - 1]];
        return id && method !== 'delete' ? id : uuidFrom(rng);
      })
      .join('/');
  }

  function hostileValue(rng: Prng): unknown {
    const kind = rng.int(3);
    return kind === 0 ? rng.pick(HOSTILE_STRINGS) : kind === 1 ? rng.pick(HOSTILE_NUMBERS) : rng.pick(HOSTILE_SHAPES);
  }

  /** Spoils one field of an object, at any depth. */
  function spoil(value: Record<string, unknown>, rng: Prng): Record<string, unknown> {
    const keys = Object.keys(value);
    if (keys.length === 0)
      return { [rng.pick(['fuzz', '__proto__', 'constructor', 'id', 'tenantId'])]: hostileValue(rng) };
    const key = rng.pick(keys);
    const inner = value[key];
    if (inner && typeof inner === 'object' && !Array.isArray(inner) && rng.chance(0.7)) {
      return { ...value, [key]: spoil(inner as Record<string, unknown>, rng) };
    }
    return { ...value, [key]: hostileValue(rng) };
  }

  /** Paths of the string fields of a body schema, nested ones included. */
  function stringFields(schema: Schema | undefined, prefix: string[] = []): string[][] {
    if (!schema || prefix.length > 3) return [];
    const s = resolve(schema, doc);
    if (s.type === 'string' && !s.enum) return [prefix];
    return Object.entries(s.properties ?? {}).flatMap(([key, child]) => stringFields(child, [...prefix, key]));
  }

  function setField(value: Record<string, unknown>, field: string[], to: unknown): Record<string, unknown> {
    const [key, ...rest] = field;
    if (rest.length === 0) return { ...value, [key]: to };
    const inner = (value[key] && typeof value[key] === 'object' ? value[key] : {}) as Record<string, unknown>;
    return { ...value, [key]: setField(inner, rest, to) };
  }

  /** `sweep`: one hostile string in one string field of an otherwise valid body, as the right caller. */
  function generate(
    method: string,
    template: string,
    op: Operation,
    rng: Prng,
    sweep?: { field: string[]; value: string },
  ): Request {
    const write = method !== 'get';
    const schema = op.requestBody?.content['application/json']?.schema;
    const base = schema ? (validValue(schema, doc, '', known) as Record<string, unknown>) : {};
    // Valid-by-chance requests really create things: names must be new, floating IPs free, and a
    // host must not point anywhere real.
    if (typeof base.name === 'string') base.name = `n${++created}`;
    if ('floatingIpId' in base) base.floatingIpId = rng.pick(spareFloatingIps);
    if ('uri' in base) base.uri = 'test:///nonexistent/host.xml';
    const kinds = [
      'valid',
      'headers',
      ...(template.includes('{') ? ['path', 'path'] : []),
      ...(op.parameters?.some((x) => x.in === 'query') ? ['query', 'query'] : []),
      ...(write ? ['field', 'field', 'field', 'extra', 'missing', 'shape', 'malformed', 'content-type', 'huge'] : []),
    ];
    const kind = sweep ? 'sweep' : rng.pick(kinds);
    const operator = op.tags?.[0]?.startsWith('operator') ?? false;
    const asOther = !sweep && rng.chance(0.1);
    const token =
      !sweep && rng.chance(0.05)
        ? rng.pick(['', 'fuzz', `kaas_${'0'.repeat(16)}_${'a'.repeat(43)}`, '$(fuzz)'])
        : operator !== asOther
          ? p.config.adminToken!
          : s.client.token!;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (!operator && token === p.config.adminToken) headers['x-kaas-tenant'] = s.tenantId;
    let path = fillPath(template, method, rng, kind === 'path');
    let body: string | undefined = write ? JSON.stringify(base) : undefined;
    let what = kind;
    if (kind === 'query') {
      const q = [rng.pick(HOSTILE_QUERIES), ...(rng.chance(0.3) ? [rng.pick(HOSTILE_QUERIES)] : [])].join('&');
      path += `?${q}`;
      what += ` ${q.slice(0, 80)}`;
    } else if (kind === 'headers') {
      const header = rng.pick(['x-request-id', 'idempotency-key', 'x-kaas-tenant', 'content-length-fuzz']);
      headers[header] = rng
        .pick(['fuzz\u202e', 'fuzz'.repeat(100), '$(fuzz)', '../fuzz', '<fuzz>', 'f'.repeat(300)])
        .replace(/[^\x20-\x7e]/g, '?');
      what += ` ${header}`;
    } else if (kind === 'sweep') {
      body = JSON.stringify(setField(base, sweep!.field, sweep!.value));
    } else if (kind === 'field') {
      body = JSON.stringify(spoil(base, rng));
    } else if (kind === 'extra') {
      body = JSON.stringify({
        ...base,
        [rng.pick(['fuzz', 'id', 'tenantId', 'fuzz<x>', '', 'constructor'])]: hostileValue(rng),
      });
    } else if (kind === 'missing') {
      const keys = Object.keys(base);
      body = JSON.stringify(keys.length ? { ...base, [rng.pick(keys)]: undefined } : base);
    } else if (kind === 'shape') {
      body = JSON.stringify(rng.pick(HOSTILE_SHAPES));
    } else if (kind === 'malformed') {
      body = rng.pick(MALFORMED_BODIES);
    } else if (kind === 'content-type') {
      const [type, text] = rng.pick(WRONG_CONTENT);
      headers['content-type'] = type;
      body = text;
      what += ` ${type}`;
    } else if (kind === 'huge') {
      body = JSON.stringify({ ...base, pad: 'fuzz'.repeat(40_000) });
    }
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    if (body !== undefined) what += ` ${body.slice(0, 100)}`;
    // An unknown field, a body that is not JSON, or one over the size limit is never accepted.
    const mustRefuse = ['extra', 'content-type', 'huge'].includes(kind) && method !== 'delete';
    return { method: method.toUpperCase(), path, headers, body, what, mustRefuse };
  }

  it('answers every route with a 4xx error body or a legitimate 2xx, never a 5xx or a stack trace', async () => {
    const rng = new Prng(SEED);
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    for (const [template, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const schema = op.requestBody?.content['application/json']?.schema;
        const sweeps = stringFields(schema).flatMap((field) => SWEPT_STRINGS.map((value) => ({ field, value })));
        for (let i = 0; i < CASES_PER_OPERATION + sweeps.length; i++) {
          const req = generate(method, template, op, rng, sweeps[i - CASES_PER_OPERATION]);
          let res: Response;
          try {
            res = await fetch(`${p.baseUrl}${req.path}`, { method: req.method, headers: req.headers, body: req.body });
          } catch (err) {
            // The client refused to send it (an invalid header value): nothing reached the API.
            if (err instanceof TypeError && /header|ByteString/i.test(String(err.cause ?? err.message))) continue;
            throw err;
          }
          sent++;
          // An event stream never ends: its status and headers are its answer.
          const streaming = res.status === 200 && res.headers.get('content-type')?.startsWith('text/event-stream');
          if (streaming) await res.body?.cancel();
          const text = streaming ? '' : await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const where = `${req.method} ${template} [${req.what}] -> ${res.status} ${text.slice(0, 200)}`;
          if (res.status >= 500) problems.push(`5xx: ${where}`);
          if (STACK.test(text)) problems.push(`stack trace: ${where}`);
          if (!SAFE_REQUEST_ID.test(res.headers.get('x-request-id') ?? '')) problems.push(`request id: ${where}`);
          if (res.status >= 400) {
            let body: Record<string, unknown> | undefined;
            try {
              body = JSON.parse(text) as Record<string, unknown>;
            } catch {
              // reported below
            }
            const shaped =
              body?.statusCode === res.status &&
              typeof body.error === 'string' &&
              typeof body.message === 'string' &&
              typeof body.code === 'string' &&
              typeof body.requestId === 'string';
            if (!shaped) problems.push(`error body: ${where}`);
          } else if (res.status >= 300) {
            problems.push(`unexpected status: ${where}`);
          } else if (req.mustRefuse) {
            problems.push(`accepted: ${where}`);
          }
        }
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThan(Object.keys(doc.paths).length * 5);
    // The run reached past validation too, not only the 400s.
    expect([...statuses.keys()].filter((s) => s < 300).length).toBeGreaterThan(0);
    expect(statuses.get(404)).toBeGreaterThan(0);
  }, 120000);

  /** Paths of every object-valued property of a body schema, optional ones included. */
  function objectFields(schema: Schema, prefix: string[] = []): string[][] {
    const s = resolve(schema, doc);
    if (!s.properties || prefix.length > 3) return [];
    return Object.entries(s.properties).flatMap(([key, child]) =>
      resolve(child, doc).properties ? [[...prefix, key], ...objectFields(child, [...prefix, key])] : [],
    );
  }

  it('refuses an unknown field in every write body, nested objects included, and unknown query parameters', async () => {
    const rng = new Prng(SEED);
    const missed: string[] = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const operator = op.tags?.[0]?.startsWith('operator') ?? false;
        const client = p.admin.as(operator ? p.config.adminToken! : s.client.token!);
        const path = fillPath(template, method, rng, false);
        const tries: { url: string; body?: unknown; field: string }[] = [];
        if (op.parameters?.some((x) => x.in === 'query'))
          tries.push({ url: `${path}?fuzzExtra=1`, field: 'fuzzExtra' });
        if (['post', 'put', 'patch'].includes(method)) {
          const schema = op.requestBody?.content['application/json']?.schema;
          const base = schema ? (validValue(schema, doc, '', known) as Record<string, unknown>) : {};
          tries.push({ url: path, body: { ...base, fuzzExtra: 1 }, field: 'fuzzExtra' });
          for (const field of schema ? objectFields(schema) : []) {
            const inner = validValue(
              field.reduce<Schema>((sc, key) => resolve(sc, doc).properties![key], schema!),
              doc,
              '',
              known,
            );
            const body = setField(base, field, { ...(inner as object), fuzzExtra: 1 });
            tries.push({ url: path, body, field: `${field.join('.')}.fuzzExtra` });
          }
        }
        for (const t of tries) {
          const res = await client.call(method.toUpperCase(), t.url, t.body);
          const named = (res.body?.details as { field: string }[] | undefined)?.some((d) => d.field === t.field);
          if (res.status !== 400 || !named) {
            missed.push(`${method.toUpperCase()} ${template} ${t.field}: ${res.status} ${JSON.stringify(res.body)}`);
          }
        }
      }
    }
    expect(missed).toEqual([]);
  });

  it('let nothing hostile reach the hypervisor', async () => {
    // Give the worker time to act on whatever the fuzzing created or changed.
    await new Promise((r) => setTimeout(r, 2000));
    const conn = (p.worker.get(HostLeases).runtime(p.hostId)!.backend as LibvirtHostBackend).conn;
    const objects: { kind: string; name: string; xml: string }[] = [];
    for (const d of await conn.listDomains()) {
      objects.push({ kind: 'domain', name: d.name, xml: await conn.getDomainXML(d.name) });
    }
    // Nor the network: every row the platform wrote in OVN's Northbound database.
    const nb = testNorthbound();
    const { stdout: rows } = await nb.exec('ovn-nbctl', [`--db=${nb.remote}`, 'show']);
    objects.push({ kind: 'northbound', name: 'northbound', xml: rows });
    for (const pool of await conn.listPools()) {
      objects.push({ kind: 'pool', name: pool.name, xml: await conn.getPoolXML(pool.name) });
      for (const v of await conn.listVolumes(pool.name)) {
        objects.push({ kind: 'volume', name: v.name, xml: await conn.getVolumeXML(pool.name, v.name) });
      }
    }
    expect(objects.filter((o) => o.kind === 'domain').length).toBeGreaterThan(0);
    const bad = objects
      .filter(
        (o) =>
          !NAMES[o.kind].test(o.name) ||
          MARKER.test(o.xml) ||
          HOSTILE_CHARACTERS.some((c) => o.xml.includes(c) || o.name.includes(c)),
      )
      .map((o) => `${o.kind} ${o.name}: ${o.xml.slice(0, 300)}`);
    expect(bad).toEqual([]);
    // Nor did it become the name of anything the platform keeps.
    const { DataSource } = await import('typeorm');
    const names: { kind: string; name: string }[] = await p.app.get(DataSource).query(
      `SELECT 'tenant' AS kind, name FROM tenants UNION ALL SELECT 'pool', name FROM storage_pools
       UNION ALL SELECT 'vpc', name FROM vpcs UNION ALL SELECT 'cluster', name FROM clusters
       UNION ALL SELECT 'host', name FROM hosts UNION ALL SELECT 'image', name FROM images`,
    );
    expect(names.filter((n) => !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n.name) || MARKER.test(n.name))).toEqual([]);
  });
});
