import { readFile, writeFile } from 'node:fs/promises';

import { LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { isNotFound } from './libvirt-error.js';
import { createLibvirtTestHost, type LibvirtTestHost } from './testing/libvirt-test-host.js';

// A network the host has of its own: the test driver reads it from the host's node file.
const NETWORK = `<network>
  <name>host-net</name>
  <bridge name='hostbr0'/>
  <ip address='10.77.0.1' netmask='255.255.255.0'/>
</network>`;

describe('libvirt binding: networks, read only', () => {
  let host: LibvirtTestHost;
  let conn: LibvirtConnection;

  beforeEach(async () => {
    host = await createLibvirtTestHost();
    const file = host.uri.slice('test://'.length);
    await writeFile(file, (await readFile(file, 'utf8')).replace('</node>', `${NETWORK}\n</node>`));
    conn = await LibvirtConnection.open(host.uri);
  });

  afterEach(async () => {
    await conn.close();
    await host.cleanup();
  });

  it('lists the host’s networks and reads their XML', async () => {
    expect(await conn.listNetworks()).toEqual([
      { name: 'host-net', uuid: expect.any(String), active: expect.any(Boolean), persistent: true },
    ]);
    const xml = await conn.getNetworkXML('host-net');
    expect(xml).toContain('<name>host-net</name>');
    expect(xml).toContain("<bridge name='hostbr0'");
  });

  it('reports a missing network as not found', async () => {
    const err: unknown = await conn.getNetworkXML('missing').catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect(err).toMatchObject({ code: LIBVIRT.VIR_ERR_NO_NETWORK, operation: 'getNetworkXML' });
  });
});
