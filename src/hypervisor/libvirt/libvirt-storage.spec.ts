import { join } from 'node:path';

import { LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { isAlreadyExists, isNotFound, isUnsupported } from './libvirt-error.js';
import { createLibvirtTestHost, type LibvirtTestHost } from './testing/libvirt-test-host.js';

const GiB = 1024 * 1024 * 1024;

const poolXml = (name: string, path: string): string =>
  `<pool type='dir'><name>${name}</name><target><path>${path}</path></target></pool>`;

const qcow2Xml = (name: string, capacityGiB: number, backingPath?: string): string =>
  `<volume><name>${name}</name><capacity unit='G'>${capacityGiB}</capacity>` +
  `<target><format type='qcow2'/></target>` +
  (backingPath ? `<backingStore><path>${backingPath}</path><format type='qcow2'/></backingStore>` : '') +
  `</volume>`;

describe('libvirt binding: storage pools and volumes', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;
  let poolPath: string;

  beforeEach(async () => {
    host = await createLibvirtTestHost();
    conn = await LibvirtConnection.open(host.uri);
    poolPath = join(host.dir, 'pool-images');
  });

  afterEach(async () => {
    await conn.close();
    await host.cleanup();
  });

  async function startedPool(name: string): Promise<void> {
    await conn.definePool(poolXml(name, poolPath));
    await conn.buildPool(name);
    await conn.startPool(name);
  }

  it('dir pool: define, build, start, info, refresh, XML, autostart, list, destroy, delete, undefine', async () => {
    const ref = await conn.definePool(poolXml('images', poolPath));
    expect(ref).toMatchObject({ name: 'images', active: false, persistent: true });
    expect(ref.uuid).toMatch(/^[0-9a-f-]{36}$/);
    await expect(conn.lookupPool('images')).resolves.toEqual(ref);
    await expect(conn.isPoolActive('images')).resolves.toBe(false);
    await expect(conn.getPoolInfo('images')).resolves.toMatchObject({ state: 'inactive', stateCode: 0 });

    await conn.buildPool('images', 0);
    await conn.startPool('images');
    await expect(conn.isPoolActive('images')).resolves.toBe(true);
    const info = await conn.getPoolInfo('images');
    expect(info).toMatchObject({ state: 'running', stateCode: LIBVIRT.VIR_STORAGE_POOL_RUNNING, allocation: 0 });
    expect(info.capacity).toBeGreaterThan(0);
    expect(info.available).toBe(info.capacity - info.allocation);

    await conn.refreshPool('images');
    await conn.setPoolAutostart('images', true);
    const xml = await conn.getPoolXML('images');
    expect(xml).toContain(`<path>${poolPath}</path>`);
    expect(xml).toContain("<pool type='dir'>");
    // measured: the test driver accepts no flags here
    await expect(conn.getPoolXML('images', LIBVIRT.VIR_STORAGE_XML_INACTIVE)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_ARG,
    });

    const all = await conn.listPools();
    expect(all.map((p) => [p.name, p.active])).toEqual([['images', true]]);
    await expect(conn.listPools(LIBVIRT.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE)).resolves.toEqual([]);

    await expect(conn.deletePool('images')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_INVALID });
    await conn.destroyPool('images');
    await expect(conn.getPoolInfo('images')).resolves.toMatchObject({ state: 'inactive' });
    await conn.deletePool('images', LIBVIRT.VIR_STORAGE_POOL_DELETE_NORMAL);
    await conn.undefinePool('images');
    const err: unknown = await conn.lookupPool('images').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: LIBVIRT.VIR_ERR_NO_STORAGE_POOL });
    expect(isNotFound(err)).toBe(true);
  });

  it('pool errors: duplicate name, unsupported build flag on the test driver, missing pool', async () => {
    await conn.definePool(poolXml('dup', poolPath));
    const dup: unknown = await conn.definePool(poolXml('dup', poolPath)).catch((e: unknown) => e);
    expect(dup).toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_FAILED, domain: LIBVIRT.VIR_FROM_STORAGE });
    expect(isAlreadyExists(dup)).toBe(true);
    // measured: the test driver accepts no build flags other than BUILD_NEW (0)
    await expect(conn.buildPool('dup', LIBVIRT.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_ARG,
      libvirtMessage: 'unsupported flags (0x4) in function testStoragePoolBuild',
    });
    await expect(conn.buildPool('dup', LIBVIRT.VIR_STORAGE_POOL_BUILD_NEW)).resolves.toBeUndefined();
    await expect(conn.startPool('missing')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_STORAGE_POOL });
    await expect(conn.refreshPool('dup')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_INVALID });
  });

  it('qcow2 volume, overlay with a backingStore, info, path, XML, list, delete', async () => {
    await startedPool('vols');
    const base = await conn.createVolume('vols', qcow2Xml('base.qcow2', 2));
    expect(base).toEqual({
      name: 'base.qcow2',
      key: join(poolPath, 'base.qcow2'),
      path: join(poolPath, 'base.qcow2'),
    });
    const overlay = await conn.createVolume('vols', qcow2Xml('node-1.qcow2', 10, base.path));
    expect(overlay.path).toBe(join(poolPath, 'node-1.qcow2'));

    await expect(conn.getVolumeInfo('vols', 'base.qcow2')).resolves.toEqual({
      type: 'file',
      typeCode: LIBVIRT.VIR_STORAGE_VOL_FILE,
      capacity: 2 * GiB,
      allocation: 2 * GiB,
    });
    await expect(conn.getVolumeInfo('vols', 'node-1.qcow2')).resolves.toMatchObject({ capacity: 10 * GiB });
    await expect(conn.getVolumePath('vols', 'node-1.qcow2')).resolves.toBe(overlay.path);
    await expect(conn.lookupVolume('vols', 'node-1.qcow2')).resolves.toEqual(overlay);
    const xml = await conn.getVolumeXML('vols', 'node-1.qcow2');
    expect(xml).toContain("<format type='qcow2'/>");
    expect(xml).toMatch(new RegExp(`<backingStore>\\s*<path>${base.path}</path>`));

    const listed = await conn.listVolumes('vols');
    expect(listed.map((v) => v.name).sort()).toEqual(['base.qcow2', 'node-1.qcow2']);
    // the test driver accounts allocation in the pool
    await expect(conn.getPoolInfo('vols')).resolves.toMatchObject({ allocation: 12 * GiB });

    const dup: unknown = await conn.createVolume('vols', qcow2Xml('base.qcow2', 1)).catch((e: unknown) => e);
    expect(isAlreadyExists(dup)).toBe(true);

    await conn.deleteVolume('vols', 'node-1.qcow2');
    await expect(conn.lookupVolume('vols', 'node-1.qcow2')).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_STORAGE_VOL,
    });
    await conn.deleteVolume('vols', 'base.qcow2', LIBVIRT.VIR_STORAGE_VOL_DELETE_NORMAL);
    await expect(conn.listVolumes('vols')).resolves.toEqual([]);
    await expect(conn.getPoolInfo('vols')).resolves.toMatchObject({ allocation: 0 });
    await expect(conn.listVolumes('no-pool')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_STORAGE_POOL });
  });

  it('upload: the test driver has no virStorageVolUpload; the stream is aborted and the connection stays usable', async () => {
    await startedPool('seed');
    await conn.createVolume(
      'seed',
      `<volume><name>seed.iso</name><capacity unit='bytes'>1048576</capacity><target><format type='raw'/></target></volume>`,
    );
    const data = Buffer.alloc(64 * 1024, 0x5a);
    const err: unknown = await conn.uploadVolume('seed', 'seed.iso', data).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_SUPPORT,
      domain: LIBVIRT.VIR_FROM_STORAGE,
      libvirtMessage: 'this function is not supported by the connection driver: virStorageVolUpload',
      operation: 'uploadVolume',
    });
    expect(isUnsupported(err)).toBe(true);
    // a Uint8Array that is not a Buffer takes the same path
    await expect(conn.uploadVolume('seed', 'seed.iso', new Uint8Array([1, 2, 3]), 0)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_SUPPORT,
    });
    await expect(conn.uploadVolume('seed', 'missing.iso', data)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_STORAGE_VOL,
    });
    await expect(conn.getVolumeInfo('seed', 'seed.iso')).resolves.toMatchObject({ capacity: 1048576 });
  });
});
