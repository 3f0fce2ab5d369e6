import { LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { LibvirtError, isAlreadyExists, isNotFound } from './libvirt-error.js';
import type { DomainLifecycleEvent } from './libvirt-types.js';
import { createLibvirtTestHost, waitFor, type LibvirtTestHost } from './testing/libvirt-test-host.js';

const NS = 'https://kaas.dev/xmlns/owner/1';

const domainXml = (name: string, uuid?: string): string =>
  `<domain type='test'><name>${name}</name>${uuid ? `<uuid>${uuid}</uuid>` : ''}` +
  `<memory unit='MiB'>256</memory><currentMemory unit='MiB'>128</currentMemory><vcpu>2</vcpu>` +
  `<os><type>hvm</type></os></domain>`;

describe('libvirt binding: domains', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;

  beforeEach(async () => {
    host = await createLibvirtTestHost();
    conn = await LibvirtConnection.open(host.uri);
  });

  afterEach(async () => {
    await conn.close();
    await host.cleanup();
  });

  it('define, look up by name and UUID, list', async () => {
    const uuid = '0b5a9c34-1111-4e0f-9c1e-3b5d2f9a7c01';
    const ref = await conn.defineDomain(domainXml('vm-a', uuid));
    expect(ref).toEqual({ name: 'vm-a', uuid, id: -1, active: false, persistent: true });
    await expect(conn.lookupDomain('vm-a')).resolves.toEqual(ref);
    await expect(conn.lookupDomainByUUID(uuid)).resolves.toEqual(ref);
    await expect(conn.lookupDomainByUUID('0b5a9c34-1111-4e0f-9c1e-3b5d2f9a7c99')).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_DOMAIN,
    });
    await conn.defineDomain(domainXml('vm-b'));
    await conn.startDomain('vm-b');
    const all = await conn.listDomains();
    expect(all.map((d) => [d.name, d.active]).sort()).toEqual([
      ['vm-a', false],
      ['vm-b', true],
    ]);
    expect(all.every((d) => /^[0-9a-f-]{36}$/.test(d.uuid))).toBe(true);
    const active = await conn.listDomains(LIBVIRT.VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    expect(active.map((d) => d.name)).toEqual(['vm-b']);
    const inactive = await conn.listDomains(LIBVIRT.VIR_CONNECT_LIST_DOMAINS_INACTIVE);
    expect(inactive.map((d) => d.name)).toEqual(['vm-a']);
  });

  it('redefining with the same UUID updates, with another UUID is "already exists"', async () => {
    const uuid = '0b5a9c34-2222-4e0f-9c1e-3b5d2f9a7c02';
    await conn.defineDomain(domainXml('vm-r', uuid));
    await expect(conn.defineDomain(domainXml('vm-r', uuid))).resolves.toMatchObject({ uuid });
    const err: unknown = await conn.defineDomain(domainXml('vm-r')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_FAILED });
    expect(isAlreadyExists(err)).toBe(true);
  });

  it('start, info, XML, isActive, shutdown, destroy, undefine', async () => {
    await conn.defineDomain(domainXml('vm-c'));
    await expect(conn.isDomainActive('vm-c')).resolves.toBe(false);
    await expect(conn.getDomainInfo('vm-c')).resolves.toMatchObject({
      state: 'shutoff',
      stateCode: LIBVIRT.VIR_DOMAIN_SHUTOFF,
      maxMemKiB: 256 * 1024,
      memoryKiB: 128 * 1024,
      vcpus: 2,
    });
    await conn.startDomain('vm-c');
    await expect(conn.isDomainActive('vm-c')).resolves.toBe(true);
    const info = await conn.getDomainInfo('vm-c');
    expect(info).toMatchObject({ state: 'running', stateCode: LIBVIRT.VIR_DOMAIN_RUNNING, vcpus: 2 });
    expect(info.cpuTimeNs).toBeGreaterThan(0);
    expect((await conn.lookupDomain('vm-c')).id).toBeGreaterThan(0);
    // measured: the test driver reports a second start as an internal error
    // (qemu reports VIR_ERR_OPERATION_INVALID)
    await expect(conn.startDomain('vm-c')).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INTERNAL_ERROR,
      libvirtMessage: expect.stringContaining('already running'),
    });
    const xml = await conn.getDomainXML('vm-c');
    expect(xml).toContain("<domain type='test' id=");
    expect(await conn.getDomainXML('vm-c', LIBVIRT.VIR_DOMAIN_XML_INACTIVE)).not.toContain(' id=');

    await conn.shutdownDomain('vm-c');
    await expect(conn.getDomainInfo('vm-c')).resolves.toMatchObject({ state: 'shutoff' });
    await conn.startDomain('vm-c');
    await conn.destroyDomain('vm-c');
    await expect(conn.isDomainActive('vm-c')).resolves.toBe(false);
    await expect(conn.destroyDomain('vm-c')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_INVALID });

    await conn.undefineDomain(
      'vm-c',
      LIBVIRT.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | LIBVIRT.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    );
    const gone: unknown = await conn.lookupDomain('vm-c').catch((e: unknown) => e);
    expect(isNotFound(gone)).toBe(true);
    await expect(conn.getDomainInfo('vm-c')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_DOMAIN });
  });

  it('undefine flags the test driver does not implement are rejected by it', async () => {
    await conn.defineDomain(domainXml('vm-f'));
    await expect(conn.undefineDomain('vm-f', LIBVIRT.VIR_DOMAIN_UNDEFINE_NVRAM)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_ARG,
      libvirtMessage: expect.stringContaining('unsupported flags (0x4)'),
    });
    await conn.undefineDomain('vm-f');
    await expect(conn.listDomains()).resolves.toEqual([]);
  });

  it('undefining a running domain leaves it transient until destroyed', async () => {
    await conn.defineDomain(domainXml('vm-t'));
    await conn.startDomain('vm-t');
    await conn.undefineDomain('vm-t');
    await expect(conn.lookupDomain('vm-t')).resolves.toMatchObject({ active: true, persistent: false });
    await conn.destroyDomain('vm-t');
    await expect(conn.lookupDomain('vm-t')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_DOMAIN });
  });

  it('metadata: set on a stopped domain, read back, survives start, live + config when running', async () => {
    await conn.defineDomain(domainXml('vm-m'));
    await expect(conn.getDomainMetadata('vm-m', NS)).resolves.toBeNull();
    await conn.setDomainMetadata('vm-m', NS, 'kaas', '<owner tenant="t-1" node="n-1"/>');
    await expect(conn.getDomainMetadata('vm-m', NS)).resolves.toBe('<owner tenant="t-1" node="n-1"/>');
    expect(await conn.getDomainXML('vm-m')).toContain(`<kaas:owner xmlns:kaas="${NS}" tenant="t-1" node="n-1"/>`);

    await conn.startDomain('vm-m');
    await expect(conn.getDomainMetadata('vm-m', NS, LIBVIRT.VIR_DOMAIN_AFFECT_LIVE)).resolves.toBe(
      '<owner tenant="t-1" node="n-1"/>',
    );
    // while running, a change goes to both the live and the persistent definition
    await conn.setDomainMetadata('vm-m', NS, 'kaas', '<owner tenant="t-2"/>');
    await expect(conn.getDomainMetadata('vm-m', NS, LIBVIRT.VIR_DOMAIN_AFFECT_LIVE)).resolves.toBe(
      '<owner tenant="t-2"/>',
    );
    await expect(conn.getDomainMetadata('vm-m', NS, LIBVIRT.VIR_DOMAIN_AFFECT_CONFIG)).resolves.toBe(
      '<owner tenant="t-2"/>',
    );
    await conn.destroyDomain('vm-m');
    await expect(conn.getDomainMetadata('vm-m', NS)).resolves.toBe('<owner tenant="t-2"/>');

    // another namespace is independent; null removes
    await conn.setDomainMetadata('vm-m', 'https://kaas.dev/xmlns/other/1', 'o', '<x/>');
    await conn.setDomainMetadata('vm-m', NS, 'kaas', null);
    await expect(conn.getDomainMetadata('vm-m', NS)).resolves.toBeNull();
    await expect(conn.getDomainMetadata('vm-m', 'https://kaas.dev/xmlns/other/1')).resolves.toBe('<x/>');

    await expect(conn.setDomainMetadata('vm-m', NS, 'kaas', 'not xml')).rejects.toBeInstanceOf(LibvirtError);
    await expect(conn.setDomainMetadata('missing', NS, 'kaas', '<x/>')).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_DOMAIN,
    });
  });

  it('lifecycle events arrive for define, start, destroy and undefine', async () => {
    const events: DomainLifecycleEvent[] = [];
    const unsubscribe = await conn.onDomainEvent((e) => events.push(e));
    const ref = await conn.defineDomain(domainXml('vm-e'));
    await conn.startDomain('vm-e');
    await conn.destroyDomain('vm-e');
    await conn.undefineDomain('vm-e');
    await waitFor(() => (events.length >= 4 ? true : undefined), 5000, 'four lifecycle events');
    expect(events.map((e) => [e.domainName, e.event])).toEqual([
      ['vm-e', 'defined'],
      ['vm-e', 'started'],
      ['vm-e', 'stopped'],
      ['vm-e', 'undefined'],
    ]);
    expect(events.every((e) => e.uuid === ref.uuid)).toBe(true);
    expect(events[0]).toMatchObject({
      eventCode: LIBVIRT.VIR_DOMAIN_EVENT_DEFINED,
      detail: LIBVIRT.VIR_DOMAIN_EVENT_DEFINED_ADDED,
    });
    expect(events[1]).toMatchObject({
      eventCode: LIBVIRT.VIR_DOMAIN_EVENT_STARTED,
      detail: LIBVIRT.VIR_DOMAIN_EVENT_STARTED_BOOTED,
    });
    expect(events[2]).toMatchObject({
      eventCode: LIBVIRT.VIR_DOMAIN_EVENT_STOPPED,
      detail: LIBVIRT.VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
    });

    // after unsubscribing nothing more is delivered
    await unsubscribe();
    await unsubscribe(); // idempotent
    await conn.defineDomain(domainXml('vm-e2'));
    await conn.startDomain('vm-e2');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events).toHaveLength(4);
  });

  it('several listeners share one registration; the last unsubscribe drops it', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const offA = await conn.onDomainEvent((e) => a.push(`${e.domainName}:${e.event}`));
    const offB = await conn.onDomainEvent((e) => b.push(`${e.domainName}:${e.event}`));
    await conn.defineDomain(domainXml('vm-s'));
    await waitFor(() => (a.length && b.length ? true : undefined), 5000, 'both listeners');
    await offA();
    await conn.startDomain('vm-s');
    await waitFor(() => (b.length >= 2 ? true : undefined), 5000, 'second event on listener b');
    expect(a).toEqual(['vm-s:defined']);
    expect(b).toEqual(['vm-s:defined', 'vm-s:started']);
    await offB();
    // re-subscribing after the registration was dropped registers again
    const c: string[] = [];
    const offC = await conn.onDomainEvent((e) => c.push(e.event));
    await conn.destroyDomain('vm-s');
    await waitFor(() => (c.length ? true : undefined), 5000, 'event after re-subscribe');
    expect(c).toEqual(['stopped']);
    await offC();
  });

  it('events of one test:///PATH connection are not seen by another (isolated state)', async () => {
    const other = await LibvirtConnection.open(host.uri);
    const seenByOther: string[] = [];
    const off = await other.onDomainEvent((e) => seenByOther.push(e.domainName));
    const seenByConn: string[] = [];
    const offConn = await conn.onDomainEvent((e) => seenByConn.push(e.domainName));
    await conn.defineDomain(domainXml('vm-iso'));
    await waitFor(() => (seenByConn.length ? true : undefined), 5000, 'own event');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seenByOther).toEqual([]);
    await expect(other.lookupDomain('vm-iso')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_DOMAIN });
    await off();
    await offConn();
    await other.close();
  });

  it('close() with a live subscription releases it so the process can exit', async () => {
    const other = await LibvirtConnection.open(host.uri);
    const seen: string[] = [];
    await other.onDomainEvent((e) => seen.push(e.event));
    await other.defineDomain(domainXml('vm-x'));
    await waitFor(() => (seen.length ? true : undefined), 5000, 'event before close');
    await other.close();
    expect(seen).toEqual(['defined']);
  });
});
