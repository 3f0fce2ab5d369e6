import { chmod, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { findRepoRoot, loadLibvirtBinding } from './libvirt-binding.js';
import { LibvirtConnection, VolumeTooLargeError } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { LibvirtError, isConnectionError, isNotFound } from './libvirt-error.js';
import type { ConnectionCloseEvent } from './libvirt-types.js';
import { createLibvirtTestHost, waitFor, type LibvirtTestHost } from './testing/libvirt-test-host.js';

/*
 * libvirt's real remote driver, talking over its `ext` transport to a
 * stand-in daemon (native/libvirt/test/fake-remote-daemon.mjs) instead of
 * libvirtd: it answers the open handshake, storage uploads and downloads, and
 * exits when asked for the hostname. This covers what the in-process test
 * driver cannot: errors that travel over RPC, the close callback, and
 * virStorageVolUpload / virStorageVolDownload.
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

  /** What the stand-in daemon logged of downloads: `download <vol> ...`, `finish <vol>`, `abort <vol>`. */
  async function downloadLog(): Promise<string[]> {
    const text = await readFile(join(host.dir, 'downloads.log'), 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line !== '');
  }

  it('downloads a volume through a libvirt stream, exactly the bytes it holds', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      // several 256 KiB stream packets and binding chunks, and a length that is no multiple of either
      const data = Buffer.alloc(700 * 1024 + 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 253;
      await conn.uploadVolume('images', 'backup.tar', data);
      const read = await conn.downloadVolume('images', 'backup.tar', 1024 * 1024);
      expect(read.length).toBe(data.length);
      expect(read.equals(data)).toBe(true);
      // a volume exactly as large as allowed is read; an empty one reads as empty
      await expect(conn.downloadVolume('images', 'backup.tar', data.length)).resolves.toHaveLength(data.length);
      await expect(conn.downloadVolume('images', 'empty', 1024)).resolves.toEqual(Buffer.alloc(0));
      expect(await downloadLog()).toEqual([
        `download backup.tar offset=0 length=${data.length} flags=0`,
        'finish backup.tar',
        `download backup.tar offset=0 length=${data.length} flags=0`,
        'finish backup.tar',
      ]);
    } finally {
      await conn.close();
    }
  });

  it('refuses a volume larger than allowed before reading any of it', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      await writeFile(join(host.dir, 'big'), Buffer.alloc(4097, 1));
      const err: unknown = await conn.downloadVolume('images', 'big', 4096).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VolumeTooLargeError);
      expect(err).toMatchObject({ poolName: 'images', volName: 'big', sizeBytes: 4097, maxBytes: 4096 });
      expect((err as Error).message).toBe('volume big of pool images holds 4097 bytes, more than the 4096 allowed');
      expect(await downloadLog()).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('download failures reject with the daemon error and leave the connection usable', async () => {
    const conn = await LibvirtConnection.open(uri);
    try {
      const data = Buffer.alloc(600 * 1024, 2);
      await writeFile(join(host.dir, 'fail-mid'), data);
      await writeFile(join(host.dir, 'denied'), data);
      // failed by the daemon after the first data packet
      await expect(conn.downloadVolume('images', 'fail-mid', data.length)).rejects.toMatchObject({
        code: LIBVIRT.VIR_ERR_OPERATION_DENIED,
        domain: LIBVIRT.VIR_FROM_STORAGE,
        libvirtMessage: 'fake daemon: read failed',
        operation: 'downloadVolume',
      });
      // refused before the stream starts
      await expect(conn.downloadVolume('images', 'denied', data.length)).rejects.toMatchObject({
        code: LIBVIRT.VIR_ERR_OPERATION_DENIED,
        libvirtMessage: 'fake daemon: download refused',
      });
      const missing: unknown = await conn.downloadVolume('images', 'missing', data.length).catch((e: unknown) => e);
      expect(isNotFound(missing)).toBe(true);
      // the same connection still streams, both ways
      await expect(conn.uploadVolume('images', 'after', Buffer.from('still here'))).resolves.toBe(10);
      await expect(conn.downloadVolume('images', 'after', 100)).resolves.toEqual(Buffer.from('still here'));
      // after a stream error the daemon has ended the stream: nothing is left to finish or abort
      expect(await downloadLog()).toEqual([
        `download fail-mid offset=0 length=${data.length} flags=0`,
        `download denied offset=0 length=${data.length} flags=0`,
        'download after offset=0 length=10 flags=0',
        'finish after',
      ]);
    } finally {
      await conn.close();
    }
  });

  it('download arguments are checked before anything is sent', async () => {
    const native = new (loadLibvirtBinding().Connection)();
    await native.open(uri);
    const conn = await LibvirtConnection.open(uri);
    try {
      const download = (offset: unknown, length: unknown) => () =>
        native.storageVolDownload('images', 'x', offset as number, length as number);
      expect(download(0, undefined)).toThrow('length must be a number');
      expect(download(0, -1)).toThrow('length must be a non-negative integer');
      expect(download(0, 1.5)).toThrow('length must be a non-negative integer');
      expect(download('0', 1)).toThrow('offset must be a number');
      await expect(conn.downloadVolume('images', 'x', Number.NaN)).rejects.toThrow(
        'maxBytes must be a non-negative integer',
      );
      await expect(conn.downloadVolume('images', 'x', -1)).rejects.toThrow('maxBytes must be a non-negative integer');
      expect(await downloadLog()).toEqual([]);
    } finally {
      await conn.close();
      await native.close();
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
