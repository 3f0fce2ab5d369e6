import { chmod, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { findRepoRoot, loadLibvirtBinding } from './libvirt-binding.js';
import { type ChannelEnd, LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { LibvirtError, isNotFound, isOperationInvalid, isUnsupported } from './libvirt-error.js';
import { createLibvirtTestHost, waitFor, type LibvirtTestHost } from './testing/libvirt-test-host.js';

const CHANNEL = 'org.kaas.status.0';

/** What one channel delivered, for assertions. */
function recorder() {
  const r = {
    chunks: [] as Buffer[],
    ends: [] as ChannelEnd[],
    lost: 0,
    text: () => Buffer.concat(r.chunks).toString(),
    onData: (chunk: Buffer) => void r.chunks.push(chunk),
    onClose: (end: ChannelEnd) => void r.ends.push(end),
    onDataLost: () => void r.lost++,
  };
  return r;
}

/*
 * virDomainOpenChannel through libvirt's real remote driver, against the stand-in daemon
 * (native/libvirt/test/fake-remote-daemon.mjs), which plays the far end of a guest's channel:
 * data in several packets, end of file (the domain stopped), a stream error, a flood, and the
 * daemon dying. The test driver does not implement channels (last test).
 */
describe('libvirt binding: domain channels', () => {
  let host: LibvirtTestHost;
  let uri: string;
  const daemonLog = async () => (await readFile(join(host.dir, 'channels.log'), 'utf8').catch(() => '')).trim();
  const waitForLog = async (text: string) => {
    const deadline = Date.now() + 5000;
    while (!(await daemonLog()).includes(text)) {
      if (Date.now() > deadline) throw new Error(`the daemon never logged ${text}: ${await daemonLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  beforeEach(async () => {
    host = await createLibvirtTestHost();
    const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
    const daemon = join(root, 'native', 'libvirt', 'test', 'fake-remote-daemon.mjs');
    const wrapper = join(host.dir, 'fake-libvirtd.sh');
    await writeFile(wrapper, `#!/bin/sh\nFAKE_LIBVIRTD_DIR='${host.dir}' exec '${process.execPath}' '${daemon}'\n`);
    await chmod(wrapper, 0o755);
    uri = `test+ext:///default?command=${wrapper}`;
  });

  afterEach(async () => {
    await host.cleanup();
    // Every stream of the test, however it ended, has been freed.
    await waitFor(() => (loadLibvirtBinding().liveChannels() === 0 ? true : undefined), 2000, 'channels to be freed');
  });

  it('delivers the bytes in order across packets; closing aborts the stream and ends with "closed" once', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const r = recorder();
      const close = await conn.openChannel('node-a', CHANNEL, r.onData, r.onClose);
      await waitFor(() => (r.text().includes('tick 3\n') ? true : undefined), 5000, 'three ticks');
      expect(r.text().startsWith('hello world\nsecond line\ntick 1\ntick 2\ntick 3\n')).toBe(true);
      await close();
      expect(r.ends).toEqual([{ reason: 'closed' }]);
      const seen = r.chunks.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(r.chunks.length).toBe(seen);
      await close();
      expect(r.ends).toHaveLength(1);
      expect(await daemonLog()).toBe(`open node-a ${CHANNEL} flags=0\nabort node-a`);
      // The connection is still good for calls and for another channel.
      await expect(conn.isAlive()).resolves.toBe(true);
      const again = recorder();
      const closeAgain = await conn.openChannel('node-a', CHANNEL, again.onData, again.onClose, { force: true });
      await waitFor(() => (again.text().includes('second line\n') ? true : undefined), 5000, 'data again');
      await closeAgain();
      expect(await daemonLog()).toContain(`open node-a ${CHANNEL} flags=${LIBVIRT.VIR_DOMAIN_CHANNEL_FORCE}`);
    } finally {
      await conn.close();
    }
  });

  it('ends with "eof" when the far end closes (the domain stopped), and finishes the stream', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const r = recorder();
      const close = await conn.openChannel('stops', CHANNEL, r.onData, r.onClose);
      await waitFor(() => (r.ends.length > 0 ? true : undefined), 5000, 'end of file');
      expect(r.text()).toBe('bye\n');
      expect(r.ends).toEqual([{ reason: 'eof' }]);
      await waitForLog('finish stops');
      await close();
      expect(r.ends).toHaveLength(1);
    } finally {
      await conn.close();
    }
  });

  it('ends with "error" and the daemon error when the stream fails', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const r = recorder();
      await conn.openChannel('fails', CHANNEL, r.onData, r.onClose);
      await waitFor(() => (r.ends.length > 0 ? true : undefined), 5000, 'stream error');
      expect(r.text()).toBe('partial');
      expect(r.ends).toHaveLength(1);
      expect(r.ends[0].reason).toBe('error');
      expect(r.ends[0].error).toBeInstanceOf(LibvirtError);
      expect(r.ends[0].error).toMatchObject({
        code: LIBVIRT.VIR_ERR_INTERNAL_ERROR,
        libvirtMessage: 'fake daemon: channel I/O error',
      });
      await expect(conn.isAlive()).resolves.toBe(true);
    } finally {
      await conn.close();
    }
  });

  it('rejects an open for a missing domain, a stopped one or a missing channel, without calling back', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const r = recorder();
      const missing: unknown = await conn.openChannel('missing', CHANNEL, r.onData, r.onClose).catch((e: unknown) => e);
      expect(isNotFound(missing)).toBe(true);
      const off: unknown = await conn.openChannel('off', CHANNEL, r.onData, r.onClose).catch((e: unknown) => e);
      expect(isOperationInvalid(off)).toBe(true);
      expect(off).toMatchObject({ operation: 'openChannel' });
      await expect(conn.openChannel('node-a', 'org.other', r.onData, r.onClose)).rejects.toMatchObject({
        code: LIBVIRT.VIR_ERR_INTERNAL_ERROR,
        libvirtMessage: 'internal error: cannot find channel org.other',
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(r.chunks).toEqual([]);
      expect(r.ends).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('closing the connection ends its channels with "connection-closed" and aborts their streams', async () => {
    const conn = await LibvirtConnection.open(uri);
    const a = recorder();
    const b = recorder();
    const closeA = await conn.openChannel('node-a', CHANNEL, a.onData, a.onClose);
    await conn.openChannel('node-b', CHANNEL, b.onData, b.onClose);
    await waitFor(() => (a.text().includes('tick 1') && b.text().includes('tick 1') ? true : undefined), 5000, 'ticks');
    await conn.close();
    expect(a.ends).toEqual([{ reason: 'connection-closed' }]);
    expect(b.ends).toEqual([{ reason: 'connection-closed' }]);
    await closeA();
    expect(a.ends).toHaveLength(1);
    const log = await daemonLog();
    expect(log).toContain('abort node-a');
    expect(log).toContain('abort node-b');
    await expect(conn.openChannel('node-a', CHANNEL, a.onData, a.onClose)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_CONN,
    });
  });

  it('a lost connection ends its channels once', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const r = recorder();
      await conn.openChannel('dies', CHANNEL, r.onData, r.onClose);
      await waitFor(() => (r.ends.length > 0 ? true : undefined), 5000, 'end after the daemon died');
      expect(r.text()).toBe('last words\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(r.ends).toHaveLength(1);
      expect(['connection-closed', 'error']).toContain(r.ends[0].reason);
    } finally {
      await conn.close();
    }
  });

  it('drops data rather than queueing without bound when JS falls behind, and says so', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const r = recorder();
      await conn.openChannel('flood', CHANNEL, r.onData, r.onClose, { onDataLost: r.onDataLost });
      // Keep the JS thread busy while libvirt's event loop thread reads all 4 MiB.
      const until = Date.now() + 600;
      while (Date.now() < until);
      await waitFor(() => (r.ends.length > 0 ? true : undefined), 5000, 'end of the flood');
      const received = Buffer.concat(r.chunks).length;
      expect(r.ends).toEqual([{ reason: 'eof' }]);
      expect(r.lost).toBeGreaterThan(0);
      expect(received).toBeLessThan(64 * 64 * 1024);
      expect(received).toBeGreaterThan(0);
    } finally {
      await conn.close();
    }
  });

  it('opens and closes 40 channels at once on one connection', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const rs = Array.from({ length: 40 }, () => recorder());
      const closers = await Promise.all(rs.map((r, i) => conn.openChannel(`n-${i}`, CHANNEL, r.onData, r.onClose)));
      await waitFor(
        () => (rs.every((r) => r.text().includes('second line\n')) ? true : undefined),
        10000,
        'data on all',
      );
      await Promise.all(closers.map((close) => close()));
      expect(rs.every((r) => r.ends.length === 1 && r.ends[0].reason === 'closed')).toBe(true);
      expect((await daemonLog()).split('\n').filter((l) => l.startsWith('abort '))).toHaveLength(40);
    } finally {
      await conn.close();
    }
  });

  it('the test driver has no channels: the open is unsupported', async () => {
    const conn = await LibvirtConnection.open(`test://${host.dir}/host.xml`);
    try {
      await conn.defineDomain(
        `<domain type='test'><name>chan</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>` +
          `<devices><channel type='unix'><target type='virtio' name='${CHANNEL}'/></channel></devices></domain>`,
      );
      await conn.startDomain('chan');
      // It keeps the channel as given (no socket path is made up, nothing listens).
      expect(await conn.getDomainXML('chan')).toContain(
        `<channel type='unix'>\n      <target type='virtio' name='${CHANNEL}'/>`,
      );
      const r = recorder();
      const err: unknown = await conn.openChannel('chan', CHANNEL, r.onData, r.onClose).catch((e: unknown) => e);
      expect(isUnsupported(err)).toBe(true);
    } finally {
      await conn.close();
    }
  });
});
