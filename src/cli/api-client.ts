import { createKaasClient, type KaasClient } from '../api/client.js';

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

/** What a call of the typed client (openapi-fetch) resolves to: a 2xx answer's body, or another's error body. */
type Answer<D = unknown> =
  { data: D; error?: never; response: Response } | { data?: never; error: unknown; response: Response };

/** The body of an answer's 2xx variant. */
type DataOf<R> = R extends { data: infer D; error?: never } ? D : never;

/** A page of a list, and where the next one starts. */
interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** The query of one page of a list. */
interface PageQuery {
  limit: number;
  cursor?: string;
}

/**
 * The body of a 2xx answer of the typed client, or an ApiError with the answer's error body:
 * `await dataOf(client.api.GET('/v1/clusters/{id}', { params: { path: { id } } }))`.
 */
export async function dataOf<R extends Answer>(call: Promise<R>): Promise<DataOf<R>> {
  const { data, error, response } = await call;
  // An empty error body is read as nothing: the message then shows it as "".
  if (!response.ok) throw new ApiError(response.status, error ?? '');
  return data as DataOf<R>;
}

/** Every item of a paged list, following nextCursor: `page` asks for the page a query names. */
export async function listAll<T>(page: (query: PageQuery) => Promise<Answer<Page<T>>>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const answer = await dataOf(page({ limit: 1000, cursor }));
    items.push(...answer.items);
    cursor = answer.nextCursor;
  } while (cursor);
  return items;
}

function unreachable(url: string, cause: unknown): Error {
  return new Error(`cannot reach the kaas API at ${url}: ${(cause as Error).cause ?? (cause as Error).message}`, {
    cause,
  });
}

/**
 * Where the API's paths start: the root of the server given, whatever path its address has (as
 * `new URL('/v1/…', server)` resolves them). An address that is not a URL cannot be reached.
 */
function serverRoot(url: string): string {
  const root = URL.canParse(url) ? new URL(url).origin : 'null';
  if (root === 'null') throw unreachable(url, new TypeError('Invalid URL'));
  return root;
}

export class ApiClient {
  private typed: KaasClient | undefined;

  constructor(private readonly options: ClientOptions) {}

  withTenant(tenantId: string | undefined): ApiClient {
    return new ApiClient({ ...this.options, tenantId });
  }

  /**
   * The API's typed client: paths, parameters, bodies and answers from docs/openapi.json, read
   * with `dataOf`. Sends the token (none: an error saying how to log in) and the tenant acted for.
   */
  get api(): KaasClient {
    if (!this.options.token) {
      throw new Error(
        'no token: run `kaasctl login <server>` (or pass --token, or set KAAS_TOKEN; see `kaasctl config get-contexts`)',
      );
    }
    this.typed ??= createKaasClient(serverRoot(this.options.url), this.options.token, {
      tenantId: this.options.tenantId,
      headers: { accept: 'application/json' },
      fetch: (request) => this.send(request),
    });
    return this.typed;
  }

  /**
   * The typed client's fetch: the request goes to the global fetch of the moment (which tests
   * replace) as a URL and a plain init, and follows no redirect. A request that can be aborted
   * comes with the caller's `signal`: the Request's own stops following it once the Request is
   * garbage-collected, which would leave a closed event stream open (and kaasctl running).
   */
  private async send(request: Request, signal?: AbortSignal): Promise<Response> {
    const init: RequestInit = {
      method: request.method,
      headers: Object.fromEntries(request.headers),
      body: request.body ? await request.text() : undefined,
      signal,
      redirect: 'manual',
    };
    let res: Response;
    try {
      res = await fetch(request.url, init);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw unreachable(this.options.url, err);
    }
    // No redirects: a token goes to the server it was given for and nowhere else.
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw new Error(
        `the kaas API at ${this.options.url} answers ${res.status} with a redirect to ${res.headers.get('location') ?? 'nowhere'}; ` +
          'kaasctl follows none: give the address it should use',
      );
    }
    return res;
  }

  /**
   * The event stream (Server-Sent Events) of one cluster, or of all the caller's: its body, read
   * as it comes, from after `lastEventId`. An answer other than 2xx is an ApiError.
   */
  async openStream(
    clusterId: string | undefined,
    lastEventId: string | undefined,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array> | null> {
    return dataOf(
      this.api.GET('/v1/events/stream', {
        params: { query: { clusterId }, header: { 'Last-Event-ID': lastEventId } },
        headers: { accept: 'text/event-stream' },
        parseAs: 'stream',
        fetch: (request) => this.send(request, signal),
      }),
    );
  }
}
