import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './openapi.js';

/** A client of the kaas API whose paths, parameters, bodies and answers are typed from docs/openapi.json. */
export type KaasClient = Client<paths>;

/** The API's schemas by name: `Schemas['ClusterResponse']`, `Schemas['ErrorResponse']`. */
export type Schemas = components['schemas'];

export interface KaasClientOptions {
  /** The operator acting for a tenant on tenant routes (`X-Kaas-Tenant`). */
  tenantId?: string;
  /** Further headers of every request. */
  headers?: Record<string, string>;
  /** Another fetch (tests, proxies). */
  fetch?: ClientOptions['fetch'];
}

/**
 * A typed client (openapi-fetch) that sends `token` as the bearer token of every request:
 * `const { data, error } = await client.GET('/v1/clusters/{id}', { params: { path: { id } } })`.
 */
export function createKaasClient(baseUrl: string, token: string, options: KaasClientOptions = {}): KaasClient {
  return createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: {
      authorization: `Bearer ${token}`,
      ...(options.tenantId ? { 'x-kaas-tenant': options.tenantId } : {}),
      ...options.headers,
    },
  });
}
