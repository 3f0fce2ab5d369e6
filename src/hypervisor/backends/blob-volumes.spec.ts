import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { LibvirtConnection, LibvirtError, LIBVIRT, isNotFound } from '../libvirt/index.js';
import { VolumeTooLargeError } from '../libvirt/libvirt-connection.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../libvirt/testing/libvirt-test-host.js';
import { libvirtNames } from '../xml/names.js';
import type { GuestProbe } from './guest-status.js';
import { LibvirtHostBackend } from './libvirt-host-backend.js';
import { SimulatedHostBackend } from './simulated-host-backend.js';

const MiB = 1024 * 1024;

function patterned(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (i * 31 + seed) % 256;
  return data;
}

describe('blob volumes on a simulated host (libvirt test driver, contents in memory)', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;
  let backend: SimulatedHostBackend;
  let pool: string;

  beforeEach(async () => {
    host = await createLibvirtTestHost();
    conn = await LibvirtConnection.open(host.uri);
    backend = new SimulatedHostBackend(conn, { bootMs: 0, installMs: 0 });
    pool = libvirtNames.storagePool(randomUUID());
    await backend.ensurePool({ type: 'dir', name: pool, path: join(host.dir, 'pool') });
  });

  afterEach(async () => {
    await conn.close();
    await host.cleanup();
  });

  it('reads back exactly the bytes stored, independent of the buffers passed in and out', async () => {
    const data = patterned(300 * 1024 + 7, 1);
    const expected = Buffer.from(data);
    await backend.storeBlobVolume(pool, 'backup-1', data);
    data.fill(0);
    expect(await backend.listVolumes(pool)).toEqual(['backup-1']);

    const read = await backend.readBlobVolume(pool, 'backup-1', MiB);
    expect(read.equals(expected)).toBe(true);
    read.fill(0);
    expect((await backend.readBlobVolume(pool, 'backup-1', MiB)).equals(expected)).toBe(true);

    await backend.storeBlobVolume(pool, 'empty', Buffer.alloc(0));
    await expect(backend.readBlobVolume(pool, 'empty', 0)).resolves.toEqual(Buffer.alloc(0));
  });

  it('replaces a blob stored again under the same name', async () => {
    await backend.storeBlobVolume(pool, 'backup-1', patterned(4096, 1));
    const second = patterned(1000, 2);
    await backend.storeBlobVolume(pool, 'backup-1', second);
    expect(await backend.listVolumes(pool)).toEqual(['backup-1']);
    expect((await backend.readBlobVolume(pool, 'backup-1', MiB)).equals(second)).toBe(true);
  });

  it('refuses a blob larger than the caller accepts', async () => {
    await backend.storeBlobVolume(pool, 'backup-1', patterned(2049, 1));
    const err: unknown = await backend.readBlobVolume(pool, 'backup-1', 2048).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumeTooLargeError);
    expect(err).toMatchObject({ poolName: pool, volName: 'backup-1', sizeBytes: 2049, maxBytes: 2048 });
    await expect(backend.readBlobVolume(pool, 'backup-1', 2049)).resolves.toHaveLength(2049);
  });

  it('forgets a removed blob, with its volume or its pool', async () => {
    await backend.storeBlobVolume(pool, 'backup-1', patterned(100, 1));
    await backend.removeVolume(pool, 'backup-1');
    expect(await backend.listVolumes(pool)).toEqual([]);
    const gone: unknown = await backend.readBlobVolume(pool, 'backup-1', MiB).catch((e: unknown) => e);
    expect(isNotFound(gone)).toBe(true);
    // removing it again is done already
    await backend.removeVolume(pool, 'backup-1');

    // a pool made again under the same name holds none of the old pool's blobs
    await backend.storeBlobVolume(pool, 'backup-2', patterned(100, 2));
    await backend.removePool(pool);
    await backend.ensurePool({ type: 'dir', name: pool, path: join(host.dir, 'pool') });
    await backend.ensureVolume(pool, { name: 'backup-2', capacityBytes: 100, format: 'raw' });
    await expect(backend.readBlobVolume(pool, 'backup-2', MiB)).rejects.toThrow(/simulated host lost the content/);
  });

  it('rejects a blob whose volume exists but whose bytes this backend never held', async () => {
    await backend.storeBlobVolume(pool, 'backup-1', patterned(100, 1));
    // what a worker that was restarted sees: the host's volume, without the memory that held its bytes
    const restarted = new SimulatedHostBackend(conn, { bootMs: 0, installMs: 0 });
    expect(await restarted.listVolumes(pool)).toEqual(['backup-1']);
    await expect(restarted.readBlobVolume(pool, 'backup-1', MiB)).rejects.toThrow(
      `the simulated host lost the content of volume backup-1 in pool ${pool}`,
    );
    // a volume that is not there at all is not found, as on a real host
    const missing: unknown = await backend.readBlobVolume(pool, 'never-stored', MiB).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
  });
});

/** The calls the libvirt backend makes for blobs, recorded; failures are set per call. */
class RecordingConnection {
  readonly calls: string[] = [];
  failDelete: unknown;
  failUpload: unknown;

  deleteVolume(pool: string, name: string): Promise<void> {
    this.calls.push(`delete ${pool}/${name}`);
    return this.failDelete ? Promise.reject(this.failDelete) : Promise.resolve();
  }

  /** Recorded as `create POOL/NAME FORMAT CAPACITY` from the volume XML. */
  createVolume(pool: string, xml: string): Promise<void> {
    const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1];
    const capacity = /<capacity unit=["']bytes["']>(\d+)<\/capacity>/.exec(xml)?.[1];
    const format = /<format type=["'](\w+)["']/.exec(xml)?.[1];
    this.calls.push(`create ${pool}/${name} ${format} ${capacity}`);
    return Promise.resolve();
  }

  uploadVolume(pool: string, name: string, data: Buffer): Promise<number> {
    this.calls.push(`upload ${pool}/${name} ${data.length}`);
    return this.failUpload ? Promise.reject(this.failUpload) : Promise.resolve(data.length);
  }

  downloadVolume(pool: string, name: string, maxBytes: number): Promise<Buffer> {
    this.calls.push(`download ${pool}/${name} max=${maxBytes}`);
    return Promise.resolve(Buffer.from('stored'));
  }
}

describe('blob volumes on a libvirt host', () => {
  const noGuests: GuestProbe = { probe: () => Promise.reject(new Error('no guests here')) };
  const notFound = new LibvirtError(
    LIBVIRT.VIR_ERR_NO_STORAGE_VOL,
    LIBVIRT.VIR_FROM_STORAGE,
    "Storage volume not found: no storage vol with matching name 'b'",
    'deleteVolume',
  );
  let conn: RecordingConnection;
  let backend: LibvirtHostBackend;

  beforeEach(() => {
    conn = new RecordingConnection();
    backend = new LibvirtHostBackend(conn as unknown as LibvirtConnection, noGuests);
  });

  it('replaces the volume with a raw one of exactly the blob length, then uploads the blob', async () => {
    conn.failDelete = notFound;
    await backend.storeBlobVolume('p', 'b', Buffer.alloc(1001, 1));
    expect(conn.calls).toEqual(['delete p/b', 'create p/b raw 1001', 'upload p/b 1001']);
  });

  it('stores an empty blob without a stream', async () => {
    await backend.storeBlobVolume('p', 'b', Buffer.alloc(0));
    expect(conn.calls).toEqual(['delete p/b', 'create p/b raw 0']);
  });

  it('removes a volume whose upload failed, and reports the failure', async () => {
    const failure = new LibvirtError(
      LIBVIRT.VIR_ERR_OPERATION_FAILED,
      LIBVIRT.VIR_FROM_STREAMS,
      'broken',
      'uploadVolume',
    );
    conn.failUpload = failure;
    await expect(backend.storeBlobVolume('p', 'b', Buffer.alloc(10))).rejects.toBe(failure);
    expect(conn.calls).toEqual(['delete p/b', 'create p/b raw 10', 'upload p/b 10', 'delete p/b']);
  });

  it('does not replace a volume it could not delete', async () => {
    const failure = new LibvirtError(
      LIBVIRT.VIR_ERR_OPERATION_FAILED,
      LIBVIRT.VIR_FROM_STORAGE,
      'busy',
      'deleteVolume',
    );
    conn.failDelete = failure;
    await expect(backend.storeBlobVolume('p', 'b', Buffer.alloc(10))).rejects.toBe(failure);
    expect(conn.calls).toEqual(['delete p/b']);
  });

  it('reads a blob through a bounded download', async () => {
    await expect(backend.readBlobVolume('p', 'b', 4096)).resolves.toEqual(Buffer.from('stored'));
    expect(conn.calls).toEqual(['download p/b max=4096']);
  });
});
