import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';
import { ChannelGuestProbe } from '../../src/hypervisor/backends/guest-status-channel.js';
import { type ChannelEnd, LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { buildNoCloudSeed } from '../../src/hypervisor/seed/index.js';
import { GUEST_STATUS_CHANNEL } from '../../src/hypervisor/xml/domain-xml.js';
import { libvirtNames } from '../../src/hypervisor/xml/names.js';
import { vmEnv, waitForConsole, testImageBoot } from './vm-support.js';

/** The host to use: libvirt's own variable, so a private vmenv's socket URI can be passed. */
const HOST_URI = process.env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/*
 * A real guest (the test image, no network interface at all) sends its status file over the
 * virtio-serial channel every domain has; the platform reads it through libvirt alone.
 */
describe('guest status over the virtio-serial channel (qemu, software emulation)', () => {
  let conn: LibvirtConnection;
  let guests: ChannelGuestProbe;
  let backend: LibvirtHostBackend;
  const { imageDir, dataDir } = vmEnv();
  const ids = { tenantId: randomUUID(), clusterId: randomUUID(), nodeId: randomUUID(), poolId: randomUUID() };
  const pool = libvirtNames.storagePool(ids.poolId);
  const domain = libvirtNames.domain(ids.nodeId);
  const seedVolume = libvirtNames.seedVolume(ids.nodeId);
  const poolDir = join(dataDir, 'pools', ids.poolId);
  const consoleLog = join(dataDir, `${ids.nodeId}.console.log`);
  const target = { domainName: domain, address: null, nodeId: ids.nodeId };
  const status = (stage: string, ready: boolean) =>
    JSON.stringify({ stage, ready, message: `vm test ${stage}`, details: { nodeId: ids.nodeId, bundle: 'none' } });

  beforeAll(async () => {
    conn = await LibvirtConnection.open(HOST_URI);
    guests = new ChannelGuestProbe(conn);
    backend = new LibvirtHostBackend(conn, guests);
    mkdirSync(join(dataDir, 'pools'), { recursive: true });
    await backend.ensurePool({ type: 'dir', name: pool, path: poolDir });
    // user-data publishes "installing", then "ready" 3 s later, as a bundle's scripts would.
    const userData = [
      '#!/bin/sh',
      `echo '${status('installing', false)}' > /var/www/status.tmp && mv /var/www/status.tmp /var/www/status`,
      `(sleep 3; echo '${status('ready', true)}' > /var/www/status.tmp && mv /var/www/status.tmp /var/www/status) &`,
      '',
    ].join('\n');
    const seed = buildNoCloudSeed({ instanceId: ids.nodeId, hostname: 'chan-test', userData });
    await backend.ensureContentVolume(pool, seedVolume, async () => seed);
    await backend.ensureDomain({
      name: domain,
      type: 'qemu',
      vcpus: 1,
      memoryMiB: 256,
      boot: testImageBoot(imageDir),
      disks: [
        { pool, volume: seedVolume, format: 'raw', device: 'disk', bus: 'virtio', target: 'vda', readonly: true },
      ],
      nics: [],
      consoleLog,
      owner: { ...ids, role: 'worker' },
    });
  });

  afterAll(async () => {
    await backend.removeDomain(domain).catch(() => undefined);
    await backend.removeVolume(pool, seedVolume).catch(() => undefined);
    await backend.removePool(pool).catch(() => undefined);
    await conn.close();
    rmSync(poolDir, { recursive: true, force: true });
  });

  it('reads status lines through libvirt from boot on, follows a change, and ends when the domain is destroyed', async () => {
    expect(await conn.getDomainXML(domain)).toContain(`<target type='virtio' name='${GUEST_STATUS_CHANNEL}'/>`);

    // The raw API: opened as soon as the domain runs, before the guest has booted.
    const started = Date.now();
    await backend.startDomain(domain);
    const lines: { at: number; text: string }[] = [];
    const ends: ChannelEnd[] = [];
    let pending = '';
    const close = await conn.openChannel(
      domain,
      GUEST_STATUS_CHANNEL,
      (chunk) => {
        pending += chunk.toString();
        for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
          const text = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (text !== '') lines.push({ at: Date.now(), text });
        }
      },
      (end) => ends.push(end),
    );
    const openedAfter = Date.now() - started;
    await until('the first status line', async () => (lines.length > 0 ? true : undefined));
    const firstLine = lines[0];
    expect(JSON.parse(firstLine.text)).toMatchObject({ stage: 'installing', details: { nodeId: ids.nodeId } });
    const isReady = (l: { text: string }) => l.text.includes('"stage":"ready"');
    await until('the changed status', async () => (lines.some(isReady) ? true : undefined));
    const changedAt = lines.findIndex(isReady);
    await until('three more lines', async () => (lines.length >= changedAt + 4 ? true : undefined), 20000);
    const gaps = lines.slice(changedAt + 1, changedAt + 4).map((l, i) => l.at - lines[changedAt + i].at);
    await close();
    expect(ends).toEqual([{ reason: 'closed' }]);
    const boot = await waitForConsole(consoleLog, /KAAS_STAGE user-data-done rc=0/, 5000);
    expect(boot).toBeTruthy();
    console.log(
      `channel open ${openedAfter} ms after start; first status line ${firstLine.at - started} ms after start; ` +
        `"installing" -> "ready" seen ${lines[changedAt].at - firstLine.at} ms after the first line (3 s in the guest); ` +
        `line gaps afterwards ${gaps.join(', ')} ms`,
    );

    // The backend: the first probe opens its reader and waits for the guest's next line (it
    // sends one a second), the following ones answer from memory.
    let t = performance.now();
    const first = await backend.probeGuest(target);
    const firstProbeMs = performance.now() - t;
    expect(first).toEqual({
      answered: true,
      status: {
        stage: 'ready',
        ready: true,
        message: 'vm test ready',
        details: { nodeId: ids.nodeId, bundle: 'none' },
      },
    });
    const costs: number[] = [];
    for (let i = 0; i < 200; i++) {
      t = performance.now();
      expect(await backend.probeGuest(target)).toMatchObject({ answered: true });
      costs.push(performance.now() - t);
    }
    expect(await backend.probeGuest({ ...target, nodeId: randomUUID() })).toMatchObject({ answered: false });
    console.log(
      `probe: first (opens the channel) ${firstProbeMs.toFixed(1)} ms; then median ${(median(costs) * 1000).toFixed(0)} µs, ` +
        `max ${Math.max(...costs).toFixed(2)} ms over ${costs.length}`,
    );
    expect(guests.openDomains).toEqual([domain]);

    // Destroyed behind the platform's back (no lifecycle event reaches this backend): the
    // channel's stream ends by itself and the reader goes away.
    const destroyedAt = Date.now();
    await conn.destroyDomain(domain);
    await until('the reader to close', async () => (guests.openDomains.length === 0 ? true : undefined), 10000);
    console.log(`reader closed ${Date.now() - destroyedAt} ms after destroy`);
    const afterStop = await backend.probeGuest(target);
    expect(afterStop.answered).toBe(false);
    expect(!afterStop.answered && afterStop.error).toMatch(/cannot read the guest's status channel: .*not running/);
    expect(guests.openDomains).toEqual([]);

    // Started again: the next probes open a new reader and answer once the guest sends.
    const restarted = Date.now();
    await backend.startDomain(domain);
    const again = await until('an answer after the restart', async () => {
      const r = await backend.probeGuest(target);
      return r.answered ? r : undefined;
    });
    console.log(`answered again ${Date.now() - restarted} ms after the restart`);
    expect(again.status.details).toMatchObject({ nodeId: ids.nodeId });
    expect(guests.openDomains).toEqual([domain]);

    // The connection closing ends the reader too.
    const other = await LibvirtConnection.open(HOST_URI);
    try {
      const otherGuests = new ChannelGuestProbe(other);
      const r = await until('an answer on a second connection', async () => {
        const p = await otherGuests.probe(target);
        return p.answered ? p : undefined;
      });
      expect(r.answered).toBe(true);
      expect(otherGuests.openDomains).toEqual([domain]);
      await other.close();
      expect(otherGuests.openDomains).toEqual([]);
    } finally {
      await other.close();
    }
    // The second connection took the channel over (force); this backend's reader ended and the
    // next probe opens it again.
    await until(
      'the first backend to answer again',
      async () => {
        const p = await backend.probeGuest(target);
        return p.answered ? p : undefined;
      },
      30000,
    );

    await backend.removeDomain(domain);
    await until(
      'the reader to close after remove',
      async () => (guests.openDomains.length === 0 ? true : undefined),
      10000,
    );
  });
});
