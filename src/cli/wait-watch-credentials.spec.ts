import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { setSurroundings } from './context.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';

const CLUSTER = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const VPC = '0b7e8a52-3f0c-4c5e-9d2a-7f3c1e0a9b11';
const STORAGE = '1c8f9b63-4a1d-4d6f-8e3b-8a4d2f1b0c22';
const FIP = '2d9a0c74-5b2e-4e7a-9f4c-9b5e3a2c1d33';
const b64 = (s: string) => Buffer.from(s).toString('base64');

const cluster = (over: Record<string, unknown> = {}) => ({
  id: CLUSTER,
  name: 'web',
  controlPlane: 'etcd',
  version: 'v3.4.23',
  masters: 1,
  workers: 1,
  phase: 'Running',
  endpoint: '10.250.0.7',
  nodeCounts: { desired: 2, ready: 2 },
  paused: false,
  usage: null,
  generation: 1,
  observedGeneration: 1,
  createdAt: new Date().toISOString(),
  conditions: [
    { type: 'UpToDate', status: 'True', reason: 'UpToDate', message: 'every node runs the declared version' },
  ],
  ...over,
});

/**
 * A fake API with a real event stream: `emit` sends an event on every open stream, so a test
 * can show that waits and watches wake on events (they would otherwise look again only after
 * 10 s).
 */
class FakeApi {
  sent: { method: string; path: string; body: unknown; headers: Record<string, string> }[] = [];
  routes = new Map<string, () => { status: number; body: unknown; type?: string }>();
  private streams: ReadableStreamDefaultController<Uint8Array>[] = [];
  private nextId = 1;
  streamOpened!: Promise<void>;
  private opened!: () => void;

  constructor() {
    this.resetOpened();
  }

  private resetOpened() {
    this.streamOpened = new Promise((resolve) => (this.opened = resolve));
  }

  on(method: string, path: string, answer: () => { status: number; body: unknown; type?: string }) {
    this.routes.set(`${method} ${path}`, answer);
  }

  emit(reason: string) {
    const data = JSON.stringify({
      id: String(this.nextId),
      clusterId: CLUSTER,
      type: 'Normal',
      reason,
      message: reason,
      createdAt: new Date().toISOString(),
    });
    const chunk = new TextEncoder().encode(`id: ${this.nextId++}\ndata: ${data}\n\n`);
    for (const s of this.streams) s.enqueue(chunk);
  }

  calls(path?: string) {
    return this.sent.filter((s) => path === undefined || s.path === path).map((s) => `${s.method} ${s.path}`);
  }

  install() {
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const method = init?.method ?? 'GET';
      const headers = (init?.headers ?? {}) as Record<string, string>;
      this.sent.push({
        method,
        path: url.pathname,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
        headers,
      });
      if (url.pathname === '/v1/events/stream') {
        let controller!: ReadableStreamDefaultController<Uint8Array>;
        const body = new ReadableStream<Uint8Array>({
          start: (c) => {
            controller = c;
            this.streams.push(c);
            c.enqueue(new TextEncoder().encode(': stream open\n\n'));
          },
        });
        init?.signal?.addEventListener('abort', () => {
          this.streams = this.streams.filter((s) => s !== controller);
          controller.error(new DOMException('aborted', 'AbortError'));
        });
        setImmediate(() => {
          this.opened();
          this.resetOpened();
        });
        return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
      }
      const route = this.routes.get(`${method} ${url.pathname}`);
      if (!route) return new Response(JSON.stringify({ message: 'unexpected' }), { status: 500 });
      const { status, body, type } = route();
      return new Response(type ? String(body) : JSON.stringify(body), {
        status,
        headers: { 'content-type': type ?? 'application/json' },
      });
    });
  }
}

describe('kaasctl waits and watches on the event stream, and writes credentials', () => {
  let api: FakeApi;
  let out: string;
  let err: string;
  let home: string;

  beforeEach(() => {
    api = new FakeApi();
    api.install();
    out = '';
    err = '';
    home = mkdtempSync(join(tmpdir(), 'kaasctl-spec-'));
    jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      out += String(c);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err += String(c);
      return true;
    });
    api.on('GET', '/v1/clusters', () => ({ status: 200, body: { items: [cluster()] } }));
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const run = (env: Record<string, string>, signal: AbortSignal | undefined, ...args: string[]) => {
    const program = kaasctlProgram({ HOME: home, ...env });
    // A watch runs until its signal ends it.
    if (signal) setSurroundings(program, { env: { HOME: home, ...env }, signal });
    return throwOnUsageErrors(program).parseAsync(['--url', 'http://kaas.test', '--token', 't', ...args], {
      from: 'user',
    });
  };

  it('create --wait looks again on each event and ends when the cluster is Running with its nodes ready', async () => {
    let state = cluster({
      phase: 'Pending',
      generation: 1,
      observedGeneration: 0,
      nodeCounts: { desired: 2, ready: 0 },
    });
    api.on('POST', '/v1/clusters', () => ({ status: 202, body: state }));
    api.on('GET', `/v1/clusters/${CLUSTER}`, () => ({ status: 200, body: state }));
    const running = run(
      {},
      undefined,
      ...['clusters', 'create', 'web', '--vpc', VPC, '--storage-pool', STORAGE, '--floating-ip', FIP, '--wait=60'],
    );
    await api.streamOpened;
    state = cluster({ phase: 'Creating', observedGeneration: 1, nodeCounts: { desired: 2, ready: 1 } });
    api.emit('NodeReady');
    await new Promise((r) => setTimeout(r, 50));
    state = cluster();
    api.emit('PhaseRunning');
    await running;
    // The answer to the POST, then one look per event: no polling in between.
    expect(api.calls(`/v1/clusters/${CLUSTER}`)).toEqual([
      `GET /v1/clusters/${CLUSTER}`,
      `GET /v1/clusters/${CLUSTER}`,
    ]);
    expect(err).toContain('cluster web: Pending, the request not yet taken up');
    expect(err).toContain('cluster web: Creating');
    expect(out.split('\n')[1]).toMatch(/^web\s+Running\s/);
  });

  it('delete says the deletion is accepted, and with --wait ends when the cluster is gone', async () => {
    api.on('DELETE', `/v1/clusters/${CLUSTER}`, () => ({ status: 202, body: cluster({ phase: 'Deleting' }) }));
    await run({}, undefined, 'clusters', 'delete', 'web');
    expect(out).toBe('cluster web: deletion accepted; it is listed until it is gone (--wait waits for that)\n');
    out = '';
    let gone = false;
    api.on('GET', `/v1/clusters/${CLUSTER}`, () =>
      gone ? { status: 404, body: { message: 'no cluster' } } : { status: 200, body: cluster({ phase: 'Deleting' }) },
    );
    const deleting = run({}, undefined, 'clusters', 'delete', 'web', '--wait');
    await api.streamOpened;
    gone = true;
    api.emit('Deleted');
    await deleting;
    expect(out).toBe('cluster web deleted\n');
    expect(err).toContain('cluster web: Deleting');
  });

  it('list --watch prints the table, then each changed row, until stopped', async () => {
    const ac = new AbortController();
    let phase = 'Creating';
    api.on('GET', '/v1/clusters', () => ({ status: 200, body: { items: [cluster({ phase })] } }));
    const watching = run({}, ac.signal, 'clusters', 'list', '--watch');
    await api.streamOpened;
    api.emit('Heartbeat'); // nothing shown changes
    await new Promise((r) => setTimeout(r, 50));
    phase = 'Running';
    api.emit('PhaseRunning');
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await watching;
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['web', 'Creating'],
      ['web', 'Running'],
    ]);
  });

  it('credentials writes etcdctl files for an etcd cluster, and kubeconfig --merge refuses it', async () => {
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: kaas-web',
      '  cluster:',
      '    server: https://10.250.0.7:2379',
      `    certificate-authority-data: ${b64('CA PEM')}`,
      'users:',
      '- name: kaas-web-admin',
      '  user:',
      `    client-certificate-data: ${b64('CERT PEM')}`,
      `    client-key-data: ${b64('KEY PEM')}`,
      'contexts:',
      '- name: kaas-web',
      '  context: {cluster: kaas-web, user: kaas-web-admin}',
      'current-context: kaas-web',
      '',
    ].join('\n');
    let bundle = 'etcd';
    api.on('GET', `/v1/clusters/${CLUSTER}`, () => ({ status: 200, body: cluster({ controlPlane: bundle }) }));
    api.on('GET', '/v1/control-planes', () => ({
      status: 200,
      body: {
        items: [
          { name: 'etcd', endpoint: { port: 2379, scheme: 'https', protocol: 'etcd' } },
          { name: 'k3s', endpoint: { port: 6443, scheme: 'https', protocol: 'kubernetes' } },
        ],
      },
    }));
    api.on('GET', '/v1/tenant', () => ({ status: 200, body: { name: 'acme' } }));
    api.on('GET', `/v1/clusters/${CLUSTER}/kubeconfig`, () => ({
      status: 200,
      body: kubeconfig,
      type: 'application/yaml',
    }));
    const dir = join(home, 'creds');
    await run({}, undefined, 'clusters', 'credentials', 'web', '--dir', dir);
    expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).toBe('CA PEM');
    expect(readFileSync(join(dir, 'client.key'), 'utf8')).toBe('KEY PEM');
    expect(statSync(join(dir, 'client.key')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const envFile = readFileSync(join(dir, 'etcdctl.env'), 'utf8');
    expect(envFile).toContain("export ETCDCTL_ENDPOINTS='https://10.250.0.7:2379'");
    expect(envFile).toContain(`export ETCDCTL_KEY='${join(dir, 'client.key')}'`);

    const kubeFile = join(home, 'kube', 'config');
    await expect(run({ KUBECONFIG: kubeFile }, undefined, 'clusters', 'kubeconfig', 'web', '--merge')).rejects.toThrow(
      'cluster web runs etcd: its endpoint is not a Kubernetes API',
    );

    // A Kubernetes bundle: merged as <platform>-<tenant>-<cluster>, 0600, the current context kept unless asked.
    bundle = 'k3s';
    mkdirSync(join(home, 'kube'));
    writeFileSync(
      kubeFile,
      'apiVersion: v1\nkind: Config\ncurrent-context: other\ncontexts: []\nclusters: []\nusers: []\n',
    );
    out = '';
    await run({ KUBECONFIG: kubeFile }, undefined, 'clusters', 'kubeconfig', 'web', '--merge');
    expect(out).toBe(`added context kaas.test-acme-web in ${kubeFile}\n`);
    let merged = parse(readFileSync(kubeFile, 'utf8'));
    expect(merged.contexts).toEqual([
      { name: 'kaas.test-acme-web', context: { cluster: 'kaas.test-acme-web', user: 'kaas.test-acme-web-admin' } },
    ]);
    expect(merged['current-context']).toBe('other');
    expect(statSync(kubeFile).mode & 0o777).toBe(0o600);
    out = '';
    await run({ KUBECONFIG: kubeFile }, undefined, 'clusters', 'kubeconfig', 'web', '--merge', '--set-current');
    expect(out).toBe(`updated context kaas.test-acme-web in ${kubeFile} (current)\n`);
    merged = parse(readFileSync(kubeFile, 'utf8'));
    expect(merged.contexts).toHaveLength(1);
    expect(merged['current-context']).toBe('kaas.test-acme-web');
  });
});
