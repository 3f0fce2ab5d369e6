const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Collections nested under another resource whose POST creates a resource of their own. */
const NESTED_COLLECTIONS = new Set(['api-keys']);

export interface AuditResource {
  kind?: string;
  id?: string;
  /** The tenant a route under /v1/tenants/:id names. */
  tenantId?: string;
}

function singular(segment: string): string {
  return segment.endsWith('s') ? segment.slice(0, -1) : segment;
}

function uuidOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && UUID.test(value) ? value.toLowerCase() : undefined;
}

/**
 * What a write acted on, from its route pattern (`/v1/clusters/:id/nodes/:nodeId/replace`), its
 * path parameters and the id in its answer:
 * - a route ending in a parameter names the resource before it (`node` `:nodeId`);
 * - a top-level collection (`POST /v1/clusters`) created the resource whose id the answer carries;
 * - a nested collection that creates (`POST /v1/tenants/:id/api-keys`) likewise;
 * - anything else is an action on the last resource named (`POST /v1/hosts/:id/drain`: the host).
 * Ids that are not UUIDs name nothing and are left out.
 */
export function auditResource(
  routePath: string | undefined,
  params: Record<string, unknown>,
  answerId: unknown,
): AuditResource {
  if (!routePath) return {};
  const segments = routePath.split('/').filter((s) => s && s !== 'v1');
  if (segments.length === 0) return {};
  const named: { kind: string; id?: string }[] = [];
  for (let i = 0; i < segments.length; i++) {
    const next = segments[i + 1];
    if (!segments[i].startsWith(':') && next?.startsWith(':')) {
      named.push({ kind: singular(segments[i]), id: uuidOrUndefined(params[next.slice(1)]) });
    }
  }
  const tenantId = segments[0] === 'tenants' ? named[0]?.id : undefined;
  const last = segments[segments.length - 1];
  const created = (kind: string): AuditResource => ({ kind, id: uuidOrUndefined(answerId), tenantId });
  if (last.startsWith(':')) return { ...named[named.length - 1], tenantId };
  if (named.length === 0) return created(singular(segments.join('-')));
  if (NESTED_COLLECTIONS.has(last)) return created(singular(last));
  return { ...named[named.length - 1], tenantId };
}
