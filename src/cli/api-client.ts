/** kaasctl talks to the API over HTTP only, like kubectl does. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = body as { message?: string; requestId?: string } | undefined;
    super(`${status}: ${b?.message ?? JSON.stringify(body)}${b?.requestId ? ` (request ${b.requestId})` : ''}`);
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
  tenantId?: string;
}

export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  withTenant(tenantId: string | undefined): ApiClient {
    return new ApiClient({ ...this.options, tenantId });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async request<T = any>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<T> {
    if (!this.options.token) {
      throw new Error(
        'no token: run `kaasctl login <server>` (or pass --token, or set KAAS_TOKEN; see `kaasctl config get-contexts`)',
      );
    }
    let res: Response;
    try {
      res = await fetch(new URL(path, this.options.url), {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          accept,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.options.tenantId ? { 'x-kaas-tenant': this.options.tenantId } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(
        `cannot reach the kaas API at ${this.options.url}: ${(err as Error).cause ?? (err as Error).message}`,
        { cause: err },
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    if (!res.ok) throw new ApiError(res.status, parsed);
    return parsed as T;
  }

  /** Follows nextCursor to the end. */
  async listAll<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.request<{ items: T[]; nextCursor?: string }>(
        'GET',
        `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }
}
