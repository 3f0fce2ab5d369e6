import { LibvirtConnection } from './libvirt-connection.js';
import { LIBVIRT } from './libvirt-constants.js';
import { isNotFound, isUnsupported } from './libvirt-error.js';
import { createLibvirtTestHost, type LibvirtTestHost } from './testing/libvirt-test-host.js';

// A VPC-style network like the platform's: own bridge, CIDR, DHCP with static hosts.
const networkXml = (name: string, bridge: string): string => `<network>
  <name>${name}</name>
  <bridge name='${bridge}' stp='off'/>
  <ip address='10.77.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.77.0.100' end='10.77.0.200'/>
      <host mac='52:54:00:aa:bb:01' ip='10.77.0.11'/>
    </dhcp>
  </ip>
</network>`;

const LIVE_AND_CONFIG = LIBVIRT.VIR_NETWORK_UPDATE_AFFECT_LIVE | LIBVIRT.VIR_NETWORK_UPDATE_AFFECT_CONFIG;

describe('libvirt binding: networks', () => {
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

  it('define, start, bridge, autostart, list, lookup, destroy, undefine', async () => {
    const ref = await conn.defineNetwork(networkXml('vpc-1', 'kvpc1'));
    expect(ref).toMatchObject({ name: 'vpc-1', active: false, persistent: true });
    await expect(conn.lookupNetwork('vpc-1')).resolves.toEqual(ref);
    await expect(conn.isNetworkActive('vpc-1')).resolves.toBe(false);
    await conn.setNetworkAutostart('vpc-1', true);
    await conn.startNetwork('vpc-1');
    await expect(conn.isNetworkActive('vpc-1')).resolves.toBe(true);
    await expect(conn.getNetworkBridgeName('vpc-1')).resolves.toBe('kvpc1');
    await expect(conn.startNetwork('vpc-1')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_INVALID });

    await conn.defineNetwork(networkXml('vpc-2', 'kvpc2'));
    const all = await conn.listNetworks();
    expect(all.map((n) => [n.name, n.active]).sort()).toEqual([
      ['vpc-1', true],
      ['vpc-2', false],
    ]);
    const active = await conn.listNetworks(LIBVIRT.VIR_CONNECT_LIST_NETWORKS_ACTIVE);
    expect(active.map((n) => n.name)).toEqual(['vpc-1']);

    await conn.destroyNetwork('vpc-1');
    await expect(conn.isNetworkActive('vpc-1')).resolves.toBe(false);
    await conn.undefineNetwork('vpc-1');
    const err: unknown = await conn.lookupNetwork('vpc-1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: LIBVIRT.VIR_ERR_NO_NETWORK, domain: LIBVIRT.VIR_FROM_TEST });
    expect(isNotFound(err)).toBe(true);
    await expect(conn.undefineNetwork('vpc-1')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_NETWORK });
  });

  it('live + config DHCP host add, modify and delete with virNetworkUpdate', async () => {
    await conn.defineNetwork(networkXml('vpc-d', 'kvpcd'));
    await conn.startNetwork('vpc-d');
    const add = `<host mac='52:54:00:aa:bb:02' name='node-2' ip='10.77.0.12'/>`;
    await conn.updateNetwork(
      'vpc-d',
      LIBVIRT.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
      LIBVIRT.VIR_NETWORK_SECTION_IP_DHCP_HOST,
      -1,
      add,
      LIVE_AND_CONFIG,
    );
    let xml = await conn.getNetworkXML('vpc-d');
    expect(xml).toContain("<host mac='52:54:00:aa:bb:01' ip='10.77.0.11'/>");
    expect(xml).toContain("<host mac='52:54:00:aa:bb:02' name='node-2' ip='10.77.0.12'/>");

    // adding the same MAC again is refused
    await expect(
      conn.updateNetwork(
        'vpc-d',
        LIBVIRT.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
        LIBVIRT.VIR_NETWORK_SECTION_IP_DHCP_HOST,
        -1,
        add,
        LIVE_AND_CONFIG,
      ),
    ).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_OPERATION_INVALID });

    await conn.updateNetwork(
      'vpc-d',
      LIBVIRT.VIR_NETWORK_UPDATE_COMMAND_MODIFY,
      LIBVIRT.VIR_NETWORK_SECTION_IP_DHCP_HOST,
      -1,
      `<host mac='52:54:00:aa:bb:02' name='node-2' ip='10.77.0.22'/>`,
      LIVE_AND_CONFIG,
    );
    xml = await conn.getNetworkXML('vpc-d');
    expect(xml).toContain("<host mac='52:54:00:aa:bb:02' name='node-2' ip='10.77.0.22'/>");
    expect(xml).not.toContain('10.77.0.12');

    await conn.updateNetwork(
      'vpc-d',
      LIBVIRT.VIR_NETWORK_UPDATE_COMMAND_DELETE,
      LIBVIRT.VIR_NETWORK_SECTION_IP_DHCP_HOST,
      -1,
      `<host mac='52:54:00:aa:bb:01' ip='10.77.0.11'/>`,
      LIVE_AND_CONFIG,
    );
    xml = await conn.getNetworkXML('vpc-d');
    expect(xml).not.toContain('52:54:00:aa:bb:01');

    // the persistent definition got the same changes: visible after a stop
    await conn.destroyNetwork('vpc-d');
    const persisted = await conn.getNetworkXML('vpc-d');
    expect(persisted).toContain("<host mac='52:54:00:aa:bb:02' name='node-2' ip='10.77.0.22'/>");
    expect(persisted).not.toContain('52:54:00:aa:bb:01');
  });

  it('config-only update on a stopped network, and errors for a missing network', async () => {
    await conn.defineNetwork(networkXml('vpc-c', 'kvpcc'));
    await conn.updateNetwork(
      'vpc-c',
      LIBVIRT.VIR_NETWORK_UPDATE_COMMAND_ADD_FIRST,
      LIBVIRT.VIR_NETWORK_SECTION_IP_DHCP_HOST,
      0,
      `<host mac='52:54:00:aa:bb:09' ip='10.77.0.19'/>`,
      LIBVIRT.VIR_NETWORK_UPDATE_AFFECT_CONFIG,
    );
    const xml = await conn.getNetworkXML('vpc-c');
    expect(xml.indexOf('52:54:00:aa:bb:09')).toBeLessThan(xml.indexOf('52:54:00:aa:bb:01'));
    await expect(
      conn.updateNetwork(
        'missing',
        LIBVIRT.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
        LIBVIRT.VIR_NETWORK_SECTION_IP_DHCP_HOST,
        -1,
        '<host/>',
        LIVE_AND_CONFIG,
      ),
    ).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_NETWORK });
    // measured: the test driver accepts no flags for virNetworkGetXMLDesc
    await expect(conn.getNetworkXML('vpc-c', LIBVIRT.VIR_NETWORK_XML_INACTIVE)).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_INVALID_ARG,
    });
  });

  it('DHCP leases: the test driver has no virNetworkGetDHCPLeases', async () => {
    await conn.defineNetwork(networkXml('vpc-l', 'kvpcl'));
    await conn.startNetwork('vpc-l');
    const err: unknown = await conn.getDhcpLeases('vpc-l').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_SUPPORT,
      domain: LIBVIRT.VIR_FROM_NETWORK,
      libvirtMessage: 'this function is not supported by the connection driver: virNetworkGetDHCPLeases',
    });
    expect(isUnsupported(err)).toBe(true);
    await expect(conn.getDhcpLeases('vpc-l', '52:54:00:aa:bb:01')).rejects.toMatchObject({
      code: LIBVIRT.VIR_ERR_NO_SUPPORT,
    });
    await expect(conn.getDhcpLeases('missing')).rejects.toMatchObject({ code: LIBVIRT.VIR_ERR_NO_NETWORK });
  });
});
