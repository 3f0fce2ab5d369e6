import { chmod, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { findRepoRoot } from './libvirt-binding.js';
import { LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { LibvirtError, isConnectionError, isNotFound } from './libvirt-error.js';
import type { ConnectionCloseEvent } from './libvirt-types.js';
import { createLibvirtTestHost, waitFor, type LibvirtTestHost } from './testing/libvirt-test-host.js';

/*
 * libvirt's real remote driver, talking over its `ext` transport to a
 * stand-in daemon (native/libvirt/test/fake-remote-daemon.mjs) instead of
 * libvirtd: it answers the open handshake, a storage upload, and exits when
 * asked for the hostname. This covers what the in-process test driver cannot:
 * errors that travel over RPC, the close callback, and virStorageVolUpload.
 */
describe('libvirt binding: remote driver against a stand-in daemon', () => {
  let host: LibvirtTestHost;
  let uri: string;

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
  });

  it('remote errors keep their code and domain; keepalive unsupported by the server is ignored', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      await expect(conn.getLibVersion()).rejects.toMatchObject({
        code: LIBVIRT.VIR_ERR_NO_SUPPORT,
        domain: LIBVIRT.VIR_FROM_REMOTE,
        libvirtMessage: 'fake daemon does not implement procedure 157',
      });
      await expect(conn.setKeepAlive(5, 3)).resolves.toBe(false);
      await expect(conn.isAlive()).resolves.toBe(true);
    } finally {
      await conn.close();
    }
  });

  it('uploads a buffer into a volume through a libvirt stream', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      // larger than the binding's 256 KiB chunk, so several stream packets
      const data = Buffer.alloc(700 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = i % 251;
      await expect(conn.uploadVolume('images', 'seed.iso', data, 4096)).resolves.toBe(data.length);
      const written = await readFile(join(host.dir, 'seed.iso'));
      expect(written.equals(data)).toBe(true);
      const meta = JSON.parse(await readFile(join(host.dir, 'seed.iso.json'), 'utf8')) as unknown;
      expect(meta).toEqual({ offset: 4096, length: data.length, flags: 0 });

      await expect(conn.uploadVolume('images', 'tiny', new Uint8Array([104, 105]))).resolves.toBe(2);
      await expect(readFile(join(host.dir, 'tiny'), 'utf8')).resolves.toBe('hi');
    } finally {
      await conn.close();
    }
  });

  it('upload failures reject with the daemon error, abort the stream, and leave the connection usable', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const data = Buffer.alloc(300 * 1024, 1);
      // refused before any data is sent
      await expect(conn.uploadVolume('images', 'denied', data)).rejects.toMatchObject({
        code: LIBVIRT.VIR_ERR_OPERATION_DENIED,
        domain: LIBVIRT.VIR_FROM_STORAGE,
        libvirtMessage: 'fake daemon: upload refused',
      });
      // failed by the daemon after the first data packet
      await expect(conn.uploadVolume('images', 'fail-mid', data)).rejects.toMatchObject({
        code: LIBVIRT.VIR_ERR_OPERATION_DENIED,
        libvirtMessage: 'fake daemon: write failed',
        operation: 'uploadVolume',
      });
      const missing: unknown = await conn.uploadVolume('images', 'missing', data).catch((e: unknown) => e);
      expect(missing).toMatchObject({ code: LIBVIRT.VIR_ERR_NO_STORAGE_VOL });
      expect(isNotFound(missing)).toBe(true);
      // the same connection still streams
      await expect(conn.uploadVolume('images', 'after', Buffer.from('ok'))).resolves.toBe(2);
      await expect(readFile(join(host.dir, 'after'), 'utf8')).resolves.toBe('ok');
    } finally {
      await conn.close();
    }
  });

  it('fires the close callback with reason eof when the daemon dies, and calls fail as connection errors', async () => {
    const conn = await LibvirtConnection.open(uri);
    const closes: ConnectionCloseEvent[] = [];
    const unsubscribed: ConnectionCloseEvent[] = [];
    conn.onClose((e) => closes.push(e));
    conn.onClose((e) => unsubscribed.push(e))();
    try {
      const err: unknown = await conn.getHostname().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LibvirtError);
      expect(err).toMatchObject({ code: LIBVIRT.VIR_ERR_SYSTEM_ERROR, domain: LIBVIRT.VIR_FROM_RPC });
      expect(isConnectionError(err)).toBe(true);
      await waitFor(() => (closes.length > 0 ? true : undefined), 5000, 'close callback');
      expect(closes).toEqual([{ reason: 'eof', reasonCode: LIBVIRT.VIR_CONNECT_CLOSE_REASON_EOF }]);
      expect(unsubscribed).toEqual([]);
      await expect(conn.isAlive()).resolves.toBe(false);
      const later: unknown = await conn.getNodeInfo().catch((e: unknown) => e);
      expect(later).toMatchObject({
        code: LIBVIRT.VIR_ERR_INTERNAL_ERROR,
        domain: LIBVIRT.VIR_FROM_RPC,
        libvirtMessage: 'internal error: client socket is closed',
      });
      expect(isConnectionError(later)).toBe(true);
    } finally {
      await conn.close();
    }
  });
});
