import { describe, expect, it } from '@jest/globals';
import { createKaasClient, type Schemas } from './client.js';

const CLUSTER_ID = '0b6f6c1e-3f1c-4a53-9d1e-8f1f2b0c9a11';

/** A fetch that records the requests it is given and answers each with `status` and `body`. */
function answering(status: number, body: unknown) {
  const requests: Request[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    requests.push(request);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  return { requests, fetch };
}

describe('createKaasClient', () => {
  it('sends the bearer token and the tenant to the path the operation names', async () => {
    const server = answering(200, { id: CLUSTER_ID, phase: 'Running' });
    const client = createKaasClient('http://127.0.0.1:8080/', 'kaas_token', {
      tenantId: '7d0c8f2e-52a4-4b1f-9a43-2b8a3a0f1c55',
      fetch: server.fetch,
    });
    const { data } = await client.GET('/v1/clusters/{id}', { params: { path: { id: CLUSTER_ID } } });
    const phase: Schemas['ClusterResponse']['phase'] | undefined = data?.phase;
    expect(phase).toBe('Running');
    const [request] = server.requests;
    expect(request.method).toBe('GET');
    expect(request.url).toBe(`http://127.0.0.1:8080/v1/clusters/${CLUSTER_ID}`);
    expect(request.headers.get('authorization')).toBe('Bearer kaas_token');
    expect(request.headers.get('x-kaas-tenant')).toBe('7d0c8f2e-52a4-4b1f-9a43-2b8a3a0f1c55');
  });

  it('sends typed bodies and headers, and reads the error body of a refusal', async () => {
    const refusal: Schemas['ErrorResponse'] = {
      statusCode: 412,
      error: 'Precondition Failed',
      code: 'PRECONDITION_FAILED',
      message: 'cluster "web" is at generation 4, not "3": read it again and retry',
      requestId: 'r-1',
    };
    const server = answering(412, refusal);
    const client = createKaasClient('http://127.0.0.1:8080', 'kaas_token', { fetch: server.fetch });
    const { data, error, response } = await client.PATCH('/v1/clusters/{id}', {
      params: { path: { id: CLUSTER_ID }, header: { 'If-Match': '"3"', 'Idempotency-Key': 'scale-1' } },
      body: { workers: 3 },
    });
    expect(response.status).toBe(412);
    expect(data).toBeUndefined();
    expect(error?.code).toBe('PRECONDITION_FAILED');
    const [request] = server.requests;
    expect(request.headers.get('if-match')).toBe('"3"');
    expect(request.headers.get('idempotency-key')).toBe('scale-1');
    expect(request.headers.get('x-kaas-tenant')).toBeNull();
    await expect(request.json()).resolves.toEqual({ workers: 3 });
  });
});
