// The REST client of the dashboard. The key lives in sessionStorage only (never in a URL, never
// in localStorage) and goes out in the Authorization header of same-origin requests.

const SESSION_KEY = 'kaas.session';

/** @typedef {{ token: string, role: 'operator' | 'tenant', tenant?: { id: string, name: string }, actAs?: { id: string, name: string } }} Session */

export const sessions = {
  /** @returns {Session | null} */
  load() {
    try {
      const raw = sessionStorage.getItem(SESSION_KEY);
      const parsed = raw ? JSON.parse(raw) : null;
      return parsed && typeof parsed.token === 'string' ? parsed : null;
    } catch {
      return null;
    }
  },
  /** @param {Session} session */
  save(session) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  },
  clear() {
    sessionStorage.removeItem(SESSION_KEY);
  },
};

const FIELD_PREFIX = /^([A-Za-z][\w.-]*): /;

/**
 * Field name to messages, from an error body: `details` as `[{field, problems}]` (validation),
 * `{field, problems}` (some 422s), or a message that starts with `field: `.
 * @returns {Map<string, string[]>}
 */
export function fieldErrorsOf(body) {
  const out = new Map();
  const add = (field, problems) => {
    if (typeof field !== 'string' || !field) return;
    const list = out.get(field) ?? [];
    for (const p of Array.isArray(problems) ? problems : [problems]) if (p) list.push(String(p));
    out.set(field, list);
  };
  const details = body?.details;
  if (Array.isArray(details)) {
    for (const d of details) if (d && typeof d === 'object') add(d.field, d.problems ?? d.message);
  } else if (details && typeof details === 'object' && typeof details.field === 'string') {
    add(details.field, details.problems ?? body.message);
  }
  if (out.size === 0 && typeof body?.message === 'string') {
    const m = FIELD_PREFIX.exec(body.message);
    if (m) add(m[1], body.message.slice(m[0].length));
  }
  return out;
}

export class ApiError extends Error {
  constructor(status, body) {
    const message =
      typeof body?.message === 'string' && body.message
        ? body.message
        : status === 0
          ? 'the API could not be reached'
          : `the API answered ${status}`;
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code;
    this.details = body?.details;
    this.requestId = body?.requestId;
    this.fields = fieldErrorsOf(body);
  }
}

/**
 * A client bound to one token. `onUnauthorized` runs when a key that worked stops working
 * (revoked), so the app can go back to the sign-in page.
 */
export function createClient(token, { tenantId, onUnauthorized } = {}) {
  function headersFor(accept, asTenant) {
    const headers = { Authorization: `Bearer ${token}`, Accept: accept };
    if (tenantId && asTenant) headers['X-Kaas-Tenant'] = tenantId;
    return headers;
  }

  /** The ApiError of a refusal (and the way back to sign-in when the key stopped working). */
  async function failure(res) {
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text().catch(() => '');
    let body = { message: text || undefined };
    if (type.includes('json') && text) {
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON after all: the text is the message
      }
    }
    const error = new ApiError(res.status, body);
    if (res.status === 401 && onUnauthorized) onUnauthorized(error);
    return error;
  }

  async function request(method, path, { body, accept = 'application/json', asTenant = true } = {}) {
    const headers = headersFor(accept, asTenant);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, null);
    }
    if (!res.ok) throw await failure(res);
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    let parsed = text;
    if (type.includes('json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return res.status === 204 ? null : parsed;
  }

  /**
   * Opens a `text/event-stream` (EventSource cannot send the Authorization header): the answer
   * whose body the caller reads, or the refusal as an ApiError. `signal` closes it.
   */
  async function stream(path, { lastEventId, signal } = {}) {
    const headers = headersFor('text/event-stream', true);
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    let res;
    try {
      res = await fetch(path, { headers, signal, credentials: 'omit', cache: 'no-store' });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(0, null);
    }
    if (!res.ok || !res.body) throw await failure(res);
    return res;
  }

  return {
    get: (path, opts) => request('GET', path, opts),
    post: (path, body = {}, opts) => request('POST', path, { ...opts, body }),
    put: (path, body, opts) => request('PUT', path, { ...opts, body }),
    patch: (path, body, opts) => request('PATCH', path, { ...opts, body }),
    del: (path, opts) => request('DELETE', path, opts),
    text: (path, accept) => request('GET', path, { accept }),
    stream,
    /** Every page of a list. */
    async all(path, limit = 1000) {
      const items = [];
      let cursor;
      do {
        const sep = path.includes('?') ? '&' : '?';
        const page = await request(
          'GET',
          `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        items.push(...(page.items ?? []));
        cursor = page.nextCursor;
      } while (cursor);
      return items;
    },
  };
}

/**
 * Who a key belongs to: the operator (GET /v1/tenants answers 200), a tenant (403 there; then
 * GET /v1/tenant names it), or nobody (401).
 * @returns {Promise<Session>}
 */
export async function identify(token) {
  const client = createClient(token);
  try {
    await client.get('/v1/tenants?limit=1');
    return { token, role: 'operator' };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 403) throw err;
  }
  const tenant = await client.get('/v1/tenant');
  return { token, role: 'tenant', tenant: { id: tenant.id, name: tenant.name } };
}
