import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { findRepoRoot, libvirtAddonPath, loadLibvirtBinding } from './libvirt-binding.js';
import { LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT, type LibvirtConstantName } from './libvirt-constants.js';
import { LibvirtError, isConnectionError, isNotFound } from './libvirt-error.js';
import { createLibvirtTestHost, type LibvirtTestHost } from './testing/libvirt-test-host.js';

const DOMAIN_XML = (name: string): string =>
  `<domain type='test'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
  `<os><type>hvm</type></os></domain>`;

describe('libvirt binding: loading', () => {
  it('finds the repo root from this folder and from a dist-like subfolder', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const root = findRepoRoot(here);
    expect(existsSync(join(root, 'native', 'libvirt', 'binding.gyp'))).toBe(true);
    expect(findRepoRoot(join(root, 'dist', 'src', 'hypervisor', 'libvirt'))).toBe(root);
    expect(() => findRepoRoot('/')).toThrow(/native\/libvirt not found/);
  });

  it('loads the compiled addon once and exposes the libvirt version', () => {
    expect(libvirtAddonPath()).toMatch(/native\/libvirt\/build\/Release\/kaas_libvirt\.node$/);
    const binding = loadLibvirtBinding();
    expect(loadLibvirtBinding()).toBe(binding);
    expect(typeof binding.Connection).toBe('function');
    expect(binding.getVersion()).toBeGreaterThanOrEqual(9_000_000);
  });

  it('exports the same constants as the TypeScript table, with header values', () => {
    const native = loadLibvirtBinding().constants;
    expect(Object.keys(native).sort()).toEqual(Object.keys(LIBVIRT).sort());
    for (const key of Object.keys(LIBVIRT) as LibvirtConstantName[]) {
      expect([key, native[key]]).toEqual([key, LIBVIRT[key]]);
    }
    // spot checks against virterror.h / libvirt-storage.h
    expect(LIBVIRT.VIR_ERR_NO_DOMAIN).toBe(42);
    expect(LIBVIRT.VIR_ERR_NO_NETWORK).toBe(43);
    expect(LIBVIRT.VIR_ERR_OPERATION_INVALID).toBe(55);
    expect(LIBVIRT.VIR_ERR_NO_STORAGE_POOL).toBe(49);
    expect(LIBVIRT.VIR_CONNECT_LIST_STORAGE_POOLS_DIR).toBe(64);
    expect(Object.isFrozen(native)).toBe(true);
  });
});

describe('trimMemory', () => {
  // A process of its own, so that what it measures is its own memory and nothing else's.
  const CHILD = `
    const binding = require(process.argv[1]);
    const anonMiB = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    let buffers = [];
    for (let i = 0; i < 4000; i++) buffers.push(Buffer.alloc(32 * 1024, 1));
    // Allocated last, kept: the C library cannot give the heap back by shrinking it from the top.
    const kept = Buffer.alloc(32 * 1024, 1);
    buffers = null;
    gc();
    gc();
    const before = anonMiB();
    const trimmed = binding.trimMemory();
    console.log(JSON.stringify({ before, after: anonMiB(), trimmed, kept: kept.length }));
  `;

  it('returns the memory that freed buffers leave in the C library to the system', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ['--expose-gc', '-e', CHILD, libvirtAddonPath()]);
    const m = JSON.parse(stdout) as { before: number; after: number; trimmed: boolean };
    // 125 MiB of buffers were freed: the process holds them until they are trimmed.
    expect(m.before).toBeGreaterThan(100);
    expect(m.trimmed).toBe(true);
    expect(m.before - m.after).toBeGreaterThan(100);
  });
});

describe('libvirt binding: connection', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;

  beforeEach(async () => {
    host = await createLibvirtTestHost({ cpus: 6, mhz: 3100, memoryKiB: 4 * 1024 * 1024, model: 'kaas-test' });
    conn = await LibvirtConnection.open(host.uri);
  });

  afterEach(async () => {
    await conn.close();
    await host.cleanup();
  });

  it('reports host facts from the node XML', async () => {
    expect(conn.isOpen).toBe(true);
    expect(conn.uri).toBe(host.uri);
    await expect(conn.isAlive()).resolves.toBe(true);
    expect(typeof (await conn.getHostname())).toBe('string');
    expect((await conn.getHostname()).length).toBeGreaterThan(0);
    await expect(conn.getLibVersion()).resolves.toBe(loadLibvirtBinding().getVersion());
    await expect(conn.getNodeInfo()).resolves.toEqual({
      model: 'kaas-test',
      memoryKiB: 4 * 1024 * 1024,
      cpus: 6,
      mhz: 3100,
      nodes: 1,
      sockets: 1,
      cores: 6,
      threads: 1,
    });
  });

  it('getFreeMemory: a file-based test host has no NUMA cells, so libvirt fails the call', async () => {
    // Measured: the test driver sums per-cell free memory; hosts read from a
    // file have none, it returns 0 and libvirt turns that into an error.
    await expect(conn.getFreeMemory()).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INTERNAL_ERROR,
      operation: 'getFreeMemory',
    });
  });

  it('keepalive is reported as unsupported (false) by the local test driver', async () => {
    await expect(conn.setKeepAlive(5, 3)).resolves.toBe(false);
  });

  it('rejects a second open of the same native connection', async () => {
    const native = new (loadLibvirtBinding().Connection)();
    await native.open(host.uri);
    await expect(native.open(host.uri)).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_INVALID });
    await native.close();
  });

  it('maps open failures to LibvirtError with libvirt codes', async () => {
    const brokenFile = join(host.dir, 'broken.xml');
    await writeFile(brokenFile, '<node');
    const broken = LibvirtConnection.open(`test://${brokenFile}`);
    await expect(broken).rejects.toBeInstanceOf(LibvirtError);
    await expect(broken).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_XML_DETAIL,
      domain: LIBVIRT.VIR_FROM_TEST,
      operation: 'open',
      libvirtMessage: expect.stringContaining("Couldn't find end of Start Tag node"),
    });
    // A missing host file is refused by the client library itself, whether or not a libvirtd
    // runs on the machine (an unknown scheme would be forwarded to a daemon when there is one).
    await expect(LibvirtConnection.open(`test://${join(host.dir, 'missing.xml')}`)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_XML_ERROR,
      operation: 'open',
      libvirtMessage: expect.stringContaining('missing.xml'),
    });
  });

  it('errors carry code, domain and message: missing domain is VIR_ERR_NO_DOMAIN', async () => {
    const err: unknown = await conn.lookupDomain('no-such-domain').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err).toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_DOMAIN,
      domain: LIBVIRT.VIR_FROM_TEST,
      libvirtMessage: 'Domain not found',
      operation: 'lookupDomain',
      message: 'lookupDomain: Domain not found',
    });
    expect(isNotFound(err)).toBe(true);
  });

  it('rejects bad arguments with a TypeError, not a libvirt error', async () => {
    const native = new (loadLibvirtBinding().Connection)();
    await native.open(host.uri);
    expect(() => native.domainCreate(42 as unknown as string)).toThrow(/name must be a string/);
    expect(() => native.domainUndefine('x', -1)).toThrow(/flags must be an unsigned 32-bit integer/);
    await native.close();
  });

  it('runs 50 parallel calls on one connection', async () => {
    await conn.defineDomain(DOMAIN_XML('par-1'));
    await conn.startDomain('par-1');
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50; i++) {
      switch (i % 5) {
        case 0:
          calls.push(conn.getDomainInfo('par-1').then((info) => expect(info.state).toBe('running')));
          break;
        case 1:
          calls.push(conn.lookupDomain('par-1').then((d) => expect(d.active).toBe(true)));
          break;
        case 2:
          calls.push(conn.getNodeInfo().then((n) => expect(n.cpus).toBe(6)));
          break;
        case 3:
          calls.push(conn.listDomains().then((l) => expect(l.map((d) => d.name)).toEqual(['par-1'])));
          break;
        default:
          calls.push(conn.getDomainXML('par-1').then((x) => expect(x).toContain('<name>par-1</name>')));
      }
    }
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(results).toHaveLength(50);
  });

  it('does not block the event loop while calls run', async () => {
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const calls = Array.from({ length: 200 }, () => conn.getNodeInfo());
    // Nothing can have settled synchronously: the calls run on worker threads.
    let settled = 0;
    for (const c of calls) void c.then(() => settled++);
    await Promise.resolve();
    expect(settled).toBe(0);
    await Promise.all(calls);
    running = false;
    expect(ticks).toBeGreaterThan(0);
  });

  it('close(): calls in flight finish, later calls reject cleanly', async () => {
    await conn.defineDomain(DOMAIN_XML('closing-1'));
    const inFlight = Array.from({ length: 20 }, () => conn.lookupDomain('closing-1'));
    const closing = conn.close();
    const after = conn.lookupDomain('closing-1').catch((e: unknown) => e);
    await closing;
    const done = await Promise.all(inFlight);
    expect(done.every((d) => d.name === 'closing-1')).toBe(true);
    expect(conn.isOpen).toBe(false);
    const err: unknown = await after;
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err).toMatchObject({ code: LIBVIRT.VIR_ERR_INVALID_CONN, libvirtMessage: 'connection is closed' });
    expect(isConnectionError(err)).toBe(true);
    await expect(conn.getNodeInfo()).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_INVALID_CONN });
    await expect(conn.onDomainEvent(() => undefined)).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_INVALID_CONN });
    // close() is idempotent
    await expect(conn.close()).resolves.toBeUndefined();
  });

  it('a never-opened native connection rejects calls as not open', async () => {
    const native = new (loadLibvirtBinding().Connection)();
    expect(native.isOpen()).toBe(false);
    await expect(native.getHostname()).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_CONN,
      libvirtMessage: 'connection is not open',
    });
    await expect(native.close()).resolves.toBeUndefined();
  });

  it('native close callback: one per connection, can be unregistered and registered again', async () => {
    const native = new (loadLibvirtBinding().Connection)();
    await native.open(host.uri);
    await native.registerCloseCallback(() => undefined);
    await expect(native.registerCloseCallback(() => undefined)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_OPERATION_INVALID,
      libvirtMessage: 'a close callback is already registered',
    });
    await native.unregisterCloseCallback();
    await native.unregisterCloseCallback(); // nothing registered: no-op
    await expect(native.registerCloseCallback(() => undefined)).resolves.toBeUndefined();
    expect(() => native.registerCloseCallback(undefined as unknown as () => void)).toThrow(/must be a function/);
    await native.close();
    await expect(native.unregisterCloseCallback()).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_INVALID_CONN });
  });

  it('native domain event deregistration of an unknown id is rejected', async () => {
    const native = new (loadLibvirtBinding().Connection)();
    await native.open(host.uri);
    const id = await native.domainEventRegister(() => undefined);
    expect(id).toBeGreaterThanOrEqual(0);
    await native.domainEventDeregister(id);
    await expect(native.domainEventDeregister(id)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_ARG,
      libvirtMessage: `no domain event registration with id ${id}`,
    });
    await native.close();
  });

  it('onClose listeners can subscribe and unsubscribe (the test driver never drops)', async () => {
    const seen: string[] = [];
    const off = conn.onClose((e) => seen.push(e.reason));
    await expect(conn.isAlive()).resolves.toBe(true);
    off();
    expect(seen).toEqual([]);
  });
});

describe('libvirt binding: shared test:///default state', () => {
  it('two connections to test:///default see the same objects', async () => {
    const a = await LibvirtConnection.open('test:///default');
    const b = await LibvirtConnection.open('test:///default');
    const name = `shared-${process.pid}-${Date.now()}`;
    try {
      await a.defineDomain(DOMAIN_XML(name));
      await expect(b.lookupDomain(name)).resolves.toMatchObject({ name, active: false });
      // the default host ships a running domain called "test"
      await expect(b.lookupDomain('test')).resolves.toMatchObject({ active: true });
      // measured quirk: the default host reports its free memory in KiB
      await expect(a.getFreeMemory()).resolves.toBeGreaterThan(0);
      await a.undefineDomain(name);
      await expect(b.lookupDomain(name)).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_DOMAIN });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
