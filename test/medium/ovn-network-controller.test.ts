import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { OVN_NORTHBOUND } from '../../src/networks/ovn/ovn-nb-tables.js';
import {
  type NorthboundTransactor,
  OvnNetworkController,
  type OwnerLiveness,
} from '../../src/networks/ovn/ovn-network-controller.js';
import { OvnNetworkError } from '../../src/networks/ovn/ovn-network-error.js';
import { NETWORK_TABLES, nbNetwork } from '../../src/networks/ovn/ovn-network-tables.js';
import { describeColumnType } from '../../src/networks/ovn/ovsdb-columns.js';
import { freshNetworkSpecs, type NetworkSpecSet } from '../../src/networks/ovn/testing/network-specs.js';
import { OvsdbClient } from '../../src/networks/ovn/ovsdb-client.js';
import { map, type OvsdbOperation } from '../../src/networks/ovn/ovsdb-types.js';
import { type OvnCentral, startOvnCentral } from '../support/ovn-central.js';
import { ownedBy, rowByUuid, rowsNamed, snapshotModelTables } from '../support/ovn-northbound-rows.js';

/** The rows one VPC with a two-chassis gateway, egress and a default route consists of. */
const VPC_ROWS = 11;

describe('OvnNetworkController against a real Northbound database and ovn-northd', () => {
  let central: OvnCentral;
  let client: OvsdbClient;
  const clients: OvsdbClient[] = [];

  beforeAll(async () => {
    central = await startOvnCentral();
    client = await OvsdbClient.connect(central.nb.remote);
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await client?.close();
    await central?.stop();
  });

  async function connect(): Promise<OvsdbClient> {
    const c = await OvsdbClient.connect(central.nb.remote);
    clients.push(c);
    return c;
  }

  /** Provider, VPC, both ports and the endpoint of a fresh spec set. */
  async function buildAll(controller: OvnNetworkController, specs: NetworkSpecSet): Promise<void> {
    await controller.ensureProvider(specs.provider);
    await controller.ensureVpc(specs.vpc);
    await controller.ensurePort(specs.port);
    await controller.ensurePort(specs.port2);
    await controller.ensureEndpoint(specs.endpoint);
  }

  const vpcOwner = (s: NetworkSpecSet) => ({ 'kaas:vpc-id': s.vpc.vpcId });

  async function rowsOfVpc(s: NetworkSpecSet) {
    const owned = await new OvnNetworkController(client).listOwnedRows();
    return owned.filter((r) => r.owners.vpcId === s.vpc.vpcId);
  }

  it('describes every column it writes as the server’s schema does', async () => {
    const schema = await client.getSchema(OVN_NORTHBOUND);
    for (const [table, columns] of Object.entries(NETWORK_TABLES)) {
      for (const [column, descriptor] of Object.entries(columns)) {
        const type = schema.tables[table]?.columns[column]?.type;
        if (column === '_uuid' || column === '_version') continue;
        expect({ table, column, descriptor }).toEqual({
          table,
          column,
          descriptor: type === undefined ? 'missing from the schema' : describeColumnType(type),
        });
      }
    }
  });

  it('builds a VPC that ovn-northd turns into logical flows, with DHCP, NAT and a load-balanced endpoint', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    await buildAll(controller, s);

    const [vpcSwitch] = await ownedBy(client, 'Logical_Switch', { ...vpcOwner(s), 'kaas:kind': 'vpc-switch' });
    const [dhcp] = await ownedBy(client, 'DHCP_Options', vpcOwner(s));
    const [router] = await ownedBy(client, 'Logical_Router', vpcOwner(s));
    const [port] = await rowsNamed(client, 'Logical_Switch_Port', s.port.nodeId);
    const [lb] = await ownedBy(client, 'Load_Balancer', { 'kaas:cluster-id': s.endpoint.clusterId });
    const [snat] = await ownedBy(client, 'NAT', vpcOwner(s));
    const [providerSwitch] = await ownedBy(client, 'Logical_Switch', { 'kaas:range-id': s.provider.rangeId });

    expect(vpcSwitch.name).toBe(`kaas-vpc-${s.vpc.vpcId}`);
    expect(vpcSwitch.external_ids).toEqual({
      'kaas:kind': 'vpc-switch',
      'kaas:vpc-id': s.vpc.vpcId,
      'kaas:tenant-id': s.vpc.tenantId,
    });
    expect(dhcp).toMatchObject({
      cidr: '10.0.0.0/24',
      options: expect.objectContaining({ router: '10.0.0.1', server_id: '10.0.0.1', mtu: '1442', lease_time: '3600' }),
    });
    expect(dhcp.options).not.toHaveProperty('dns_server');
    expect(port).toMatchObject({
      addresses: ['02:00:00:0a:00:0b 10.0.0.11'],
      port_security: ['02:00:00:0a:00:0b 10.0.0.11'],
      dhcpv4_options: dhcp._uuid,
      external_ids: {
        'kaas:kind': 'node-port',
        'kaas:node-id': s.port.nodeId,
        'kaas:vpc-id': s.vpc.vpcId,
        'kaas:tenant-id': s.vpc.tenantId,
        'kaas:cluster-id': s.port.clusterId,
      },
    });
    expect(vpcSwitch.ports).toContain(port._uuid);
    expect(snat).toMatchObject({ type: 'snat', external_ip: '10.250.0.10', logical_ip: '10.0.0.0/24' });
    expect(router.nat).toEqual([snat._uuid]);
    expect(lb).toMatchObject({
      vips: { '10.250.0.20:6443': '10.0.0.11:6443,10.0.0.12:6443' },
      protocol: 'tcp',
      ip_port_mappings: { '10.0.0.11': `${s.port.nodeId}:10.0.0.254`, '10.0.0.12': `${s.port2.nodeId}:10.0.0.254` },
    });
    expect(router.load_balancer).toEqual([lb._uuid]);
    expect(vpcSwitch.load_balancer).toEqual([lb._uuid]);
    expect(lb.health_check).toHaveLength(1);
    expect(providerSwitch.ports).toHaveLength(2);

    // OVN's own reading of the same rows.
    const show = await central.nbctl('show', router._uuid);
    expect(show).toContain('networks: ["10.250.0.10/24"]');
    const chassis = await central.nbctl('lrp-get-gateway-chassis', `kaas-lrp-gw-${s.vpc.vpcId}`);
    expect(chassis.trim().split('\n')).toEqual([
      `kaas-lrp-gw-${s.vpc.vpcId}-host-1    20`,
      `kaas-lrp-gw-${s.vpc.vpcId}-host-2    10`,
    ]);

    await central.syncSouthbound();
    const [switchBinding] = await central.sbRows(
      'find',
      'Datapath_Binding',
      `external_ids:logical-switch=${vpcSwitch._uuid}`,
    );
    const [routerBinding] = await central.sbRows(
      'find',
      'Datapath_Binding',
      `external_ids:logical-router=${router._uuid}`,
    );
    expect(switchBinding).toBeDefined();
    expect(routerBinding).toBeDefined();
    const switchFlows = await central.sbctl('lflow-list', vpcSwitch._uuid);
    expect(switchFlows).toContain('ls_in_check_port_sec');
    // DHCP answered by OVN for the node's MAC, with the options of the VPC.
    expect(switchFlows).toMatch(/put_dhcp_opts\(offerip = 10\.0\.0\.11,.*mtu = 1442/);
    const routerFlows = await central.sbctl('lflow-list', router._uuid);
    expect(routerFlows).toContain('ct_snat(10.250.0.10)');
    expect(routerFlows).toMatch(/ct_lb_mark\(backends=10\.0\.0\.11:6443,10\.0\.0\.12:6443\)/);
    const bindings = await central.sbRows('--columns=logical_port,type', 'list', 'Port_Binding');
    expect(bindings).toEqual(
      expect.arrayContaining([
        { logical_port: s.port.nodeId, type: '' },
        { logical_port: `cr-kaas-lrp-gw-${s.vpc.vpcId}`, type: 'chassisredirect' },
      ]),
    );
    const monitors = await central.sbRows('--columns=ip,port,logical_port,src_ip', 'list', 'Service_Monitor');
    expect(monitors).toEqual(
      expect.arrayContaining([
        { ip: '10.0.0.11', port: 6443, logical_port: s.port.nodeId, src_ip: '10.0.0.254' },
        { ip: '10.0.0.12', port: 6443, logical_port: s.port2.nodeId, src_ip: '10.0.0.254' },
      ]),
    );
    expect(await central.northdComplaints()).toEqual([]);
  });

  it('does nothing the second time: one read per call, no write, not a byte changed', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);

    // Northbound transactions per operation, first time.
    const perCall: Record<string, { reads: number; writes: number }> = {};
    const count = async (label: string, call: () => Promise<unknown>) => {
      const before = controller.transactions;
      await call();
      const after = controller.transactions;
      perCall[label] = { reads: after.reads - before.reads, writes: after.writes - before.writes };
    };
    await count('ensureProvider', () => controller.ensureProvider(s.provider));
    await count('ensureVpc', () => controller.ensureVpc(s.vpc));
    await count('ensurePort', () => controller.ensurePort(s.port));
    await count('ensurePort2', () => controller.ensurePort(s.port2));
    await count('ensureEndpoint', () => controller.ensureEndpoint(s.endpoint));
    for (const label of Object.keys(perCall)) expect(perCall[label]).toEqual({ reads: 1, writes: 1 });

    // Whatever ovn-northd writes back (ports' `up`) is not the controller's to undo.
    await central.syncSouthbound();
    const before = await snapshotModelTables(client);
    const counts = controller.transactions;
    const again = await Promise.all([
      controller.ensureProvider(s.provider),
      controller.ensureVpc(s.vpc),
      controller.ensurePort(s.port),
      controller.ensurePort(s.port2),
      controller.ensureEndpoint({ ...s.endpoint, backends: [...s.endpoint.backends].reverse() }),
    ]);
    expect(again.map((r) => r.changed)).toEqual([false, false, false, false, false]);
    expect(controller.transactions).toEqual({ ...counts, reads: counts.reads + 5 });
    expect(await snapshotModelTables(client)).toEqual(before);
  });

  it('changes a VPC in place: DHCP options, gateway chassis, egress, and the gateway itself', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    await buildAll(controller, s);
    const [dhcpBefore] = await ownedBy(client, 'DHCP_Options', vpcOwner(s));

    const changed = await controller.ensureVpc({
      ...s.vpc,
      mtu: 1400,
      dns: ['10.9.9.9', '10.9.9.10'],
      gateway: { ...s.vpc.gateway!, chassis: [{ name: 'host-2', priority: 30 }] },
    });
    expect(changed.changed).toBe(true);
    const [dhcpAfter] = await ownedBy(client, 'DHCP_Options', vpcOwner(s));
    expect(dhcpAfter._uuid).toBe(dhcpBefore._uuid);
    expect(dhcpAfter.options).toMatchObject({ mtu: '1400', dns_server: '{10.9.9.9, 10.9.9.10}' });
    const chassis = await ownedBy(client, 'Gateway_Chassis', vpcOwner(s));
    expect(chassis.map((c) => [c.chassis_name, c.priority])).toEqual([['host-2', 30]]);
    const [gatewayPort] = await ownedBy(client, 'Logical_Router_Port', {
      ...vpcOwner(s),
      'kaas:kind': 'vpc-gateway-port',
    });
    expect(gatewayPort.gateway_chassis).toEqual([chassis[0]._uuid]);

    await controller.ensureVpc({ ...s.vpc, egress: false });
    expect(await ownedBy(client, 'NAT', vpcOwner(s))).toEqual([]);
    const [router] = await ownedBy(client, 'Logical_Router', vpcOwner(s));
    expect(router.nat).toEqual([]);

    await controller.ensureVpc({ ...s.vpc, egress: false, gateway: undefined });
    const kinds = (await rowsOfVpc(s)).map((r) => r.kind).sort();
    expect(kinds).toEqual([
      'endpoint-health-check',
      'endpoint-lb',
      'node-port',
      'node-port',
      'vpc-dhcp',
      'vpc-router',
      'vpc-router-port',
      'vpc-switch',
      'vpc-switch-router-port',
    ]);
    const [providerSwitch] = await ownedBy(client, 'Logical_Switch', { 'kaas:range-id': s.provider.rangeId });
    expect(providerSwitch.ports).toHaveLength(1);

    // The node ports kept their DHCP options through all of it.
    const [port] = await rowsNamed(client, 'Logical_Switch_Port', s.port.nodeId);
    expect(port.dhcpv4_options).toBe(dhcpBefore._uuid);
    await central.syncSouthbound();
    expect(await central.northdComplaints()).toEqual([]);
  });

  it('moves the endpoint to the masters it is given, and removes it', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    await buildAll(controller, s);
    await controller.ensureEndpoint({ ...s.endpoint, backends: [s.endpoint.backends[1]] });
    const [lb] = await ownedBy(client, 'Load_Balancer', { 'kaas:cluster-id': s.endpoint.clusterId });
    expect(lb.vips).toEqual({ '10.250.0.20:6443': '10.0.0.12:6443' });
    expect(lb.ip_port_mappings).toEqual({ '10.0.0.12': `${s.port2.nodeId}:10.0.0.254` });

    await controller.ensureEndpoint({ ...s.endpoint, backends: [] });
    const [empty] = await ownedBy(client, 'Load_Balancer', { 'kaas:cluster-id': s.endpoint.clusterId });
    expect(empty.vips).toEqual({ '10.250.0.20:6443': '' });

    const removed = await controller.removeEndpoint(s.endpoint.clusterId);
    expect(removed.changes.map((c) => c.table).sort()).toEqual(['Load_Balancer', 'Load_Balancer_Health_Check']);
    expect(await ownedBy(client, 'Load_Balancer', { 'kaas:cluster-id': s.endpoint.clusterId })).toEqual([]);
    const [router] = await ownedBy(client, 'Logical_Router', vpcOwner(s));
    const [vpcSwitch] = await ownedBy(client, 'Logical_Switch', { ...vpcOwner(s), 'kaas:kind': 'vpc-switch' });
    expect(router.load_balancer).toEqual([]);
    expect(vpcSwitch.load_balancer).toEqual([]);
    await expect(controller.removeEndpoint(s.endpoint.clusterId)).resolves.toMatchObject({ changed: false });
  });

  it('removes a port, then a VPC with everything that names it, then the provider network', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    await buildAll(controller, s);

    await controller.removePort(s.port.nodeId);
    expect(await rowsNamed(client, 'Logical_Switch_Port', s.port.nodeId)).toEqual([]);
    const [vpcSwitch] = await ownedBy(client, 'Logical_Switch', { ...vpcOwner(s), 'kaas:kind': 'vpc-switch' });
    expect(vpcSwitch.ports).toHaveLength(2);

    await controller.removeVpc(s.vpc.vpcId);
    expect(await rowsOfVpc(s)).toEqual([]);
    const [providerSwitch] = await ownedBy(client, 'Logical_Switch', { 'kaas:range-id': s.provider.rangeId });
    expect(providerSwitch.ports).toHaveLength(1);

    await controller.removeProvider(s.provider.rangeId);
    const owned = await controller.listOwnedRows();
    expect(owned.filter((r) => r.owners.rangeId === s.provider.rangeId)).toEqual([]);
    await central.syncSouthbound();
    expect(await central.northdComplaints()).toEqual([]);
  });

  it('refuses a port or an endpoint whose VPC is not there, and writes nothing', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    const before = controller.transactions;
    await expect(controller.ensurePort(s.port)).rejects.toMatchObject({
      code: 'DEPENDENCY_MISSING',
      message: expect.stringContaining('ensureVpc first'),
    });
    await expect(controller.ensureEndpoint(s.endpoint)).rejects.toBeInstanceOf(OvnNetworkError);
    await expect(controller.ensureVpc(s.vpc)).rejects.toMatchObject({
      code: 'DEPENDENCY_MISSING',
      message: expect.stringContaining('ensureProvider first'),
    });
    expect(controller.transactions).toEqual({ ...before, reads: before.reads + 3 });
  });

  it('collects rows whose owners are gone, and only those', async () => {
    const a = freshNetworkSpecs();
    const b = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    await buildAll(controller, a);
    await buildAll(controller, b);
    // A row of a kind this model does not know, and one of a known kind that lacks its owner.
    const stranger = `stranger-${randomUUID()}`;
    await central.nbctl(
      'ls-add',
      stranger,
      '--',
      'set',
      'Logical_Switch',
      stranger,
      'external_ids:"kaas:kind"=future-kind',
    );
    const orphan = `orphan-${randomUUID()}`;
    await central.nbctl('ls-add', orphan, '--', 'set', 'Logical_Switch', orphan, 'external_ids:"kaas:kind"=vpc-switch');

    const dead = { vpc: b.vpc.vpcId, node: a.port2.nodeId, range: b.provider.rangeId };
    const asked: string[] = [];
    const isLive: OwnerLiveness = {
      vpc: (id) => (asked.push(`vpc:${id}`), id !== dead.vpc),
      node: (id) => (asked.push(`node:${id}`), id !== dead.node),
      cluster: (id) => (asked.push(`cluster:${id}`), true),
      range: (id) => (asked.push(`range:${id}`), id !== dead.range),
    };
    const removed = await controller.collectGarbage(isLive);
    expect(new Set(asked).size).toBe(asked.length);

    const removedOfB = removed.filter((r) => r.owners.vpcId === b.vpc.vpcId || r.owners.rangeId === b.provider.rangeId);
    expect(removedOfB.map((r) => r.kind).sort()).toEqual(
      [
        'endpoint-health-check',
        'endpoint-lb',
        'node-port',
        'node-port',
        'provider-localnet',
        'provider-switch',
        'vpc-default-route',
        'vpc-dhcp',
        'vpc-gateway-chassis',
        'vpc-gateway-chassis',
        'vpc-gateway-port',
        'vpc-provider-router-port',
        'vpc-router',
        'vpc-router-port',
        'vpc-snat',
        'vpc-switch',
        'vpc-switch-router-port',
      ].sort(),
    );
    expect(removed.filter((r) => r.owners.vpcId === a.vpc.vpcId).map((r) => r.owners.nodeId)).toEqual([a.port2.nodeId]);
    expect(removed.map((r) => r.name)).toContain(orphan);
    expect(removed.map((r) => r.name)).not.toContain(stranger);
    expect(removed).toHaveLength(removedOfB.length + 2);

    expect(await rowsOfVpc(b)).toEqual([]);
    expect(await rowsOfVpc(a)).toHaveLength(VPC_ROWS + 1 + 2);
    expect(await rowsNamed(client, 'Logical_Switch', stranger)).toHaveLength(1);
    await expect(controller.collectGarbage(isLive)).resolves.toEqual([]);
    await central.nbctl('ls-del', stranger);
  });

  /**
   * Six controllers on six connections whose first writes wait until all six have read: the
   * worst interleaving, every one of them planning on the same database.
   */
  async function racingControllers(): Promise<OvnNetworkController[]> {
    let reads = 0;
    let everyoneRead!: () => void;
    const allRead = new Promise<void>((resolve) => (everyoneRead = resolve));
    return Promise.all(
      Array.from({ length: 6 }, async () => {
        const connection = await connect();
        const held: NorthboundTransactor = {
          transact: async (db, operations, options) => {
            if (!operations.every((o: OvsdbOperation) => o.op === 'select')) await allRead;
            const result = await connection.transact(db, operations, options);
            if (++reads === 6) everyoneRead();
            return result;
          },
        };
        return new OvnNetworkController(held, { retryDelayMs: 5 });
      }),
    );
  }

  it('lets only one of several concurrent callers create a VPC or an endpoint, each row once', async () => {
    const s = freshNetworkSpecs();
    await new OvnNetworkController(client).ensureProvider(s.provider);
    const racers = await racingControllers();
    const results = await Promise.all(racers.map((c) => c.ensureVpc(s.vpc)));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const rows = await rowsOfVpc(s);
    expect(rows).toHaveLength(VPC_ROWS);
    expect(new Set(rows.map((r) => `${r.table}/${r.name ?? r.kind}`)).size).toBe(VPC_ROWS);
    // The five that lost had their writes refused, read again, found nothing to do.
    expect(racers.reduce((n, c) => n + c.transactions.conflicts, 0)).toBe(5);
    expect(results.map((r) => r.attempts).sort()).toEqual([1, 2, 2, 2, 2, 2]);

    // Load balancers have no unique name in the schema: only the waits keep them single.
    await new OvnNetworkController(client).ensurePort(s.port);
    const endpointRacers = await racingControllers();
    const endpoints = await Promise.all(endpointRacers.map((c) => c.ensureEndpoint(s.endpoint)));
    expect(endpoints.filter((r) => r.changed)).toHaveLength(1);
    expect(await ownedBy(client, 'Load_Balancer', { 'kaas:cluster-id': s.endpoint.clusterId })).toHaveLength(1);
    expect(
      await ownedBy(client, 'Load_Balancer_Health_Check', { 'kaas:cluster-id': s.endpoint.clusterId }),
    ).toHaveLength(1);

    // Many ports of one VPC at once: each lands once, none is lost.
    const ports = Array.from({ length: 8 }, (_, i) => ({
      ...s.port,
      nodeId: randomUUID(),
      mac: `02:00:00:0b:00:${(i + 20).toString(16)}`,
      ip: `10.0.0.${i + 20}`,
    }));
    await Promise.all(ports.map((p, i) => racers[i % racers.length].ensurePort(p)));
    const [vpcSwitch] = await ownedBy(client, 'Logical_Switch', { ...vpcOwner(s), 'kaas:kind': 'vpc-switch' });
    expect(vpcSwitch.ports).toHaveLength(2 + ports.length);
  });

  it('completes what a hand or an earlier run left half built, and removes duplicates', async () => {
    const s = freshNetworkSpecs();
    const controller = new OvnNetworkController(client);
    await controller.ensureProvider(s.provider);
    const ids = `external_ids:"kaas:vpc-id"=${s.vpc.vpcId} external_ids:"kaas:tenant-id"=${s.vpc.tenantId}`.split(' ');
    // A switch and a router with our names and owners, twice the DHCP options, a NAT rule with a
    // wrong address, no ports; and the node's port, without owners, on a stray switch.
    const router = `kaas-lr-${s.vpc.vpcId}`;
    await central.nbctl(
      'ls-add',
      `kaas-vpc-${s.vpc.vpcId}`,
      '--',
      'set',
      'Logical_Switch',
      `kaas-vpc-${s.vpc.vpcId}`,
      ...ids,
      'external_ids:"kaas:kind"=vpc-switch',
    );
    await central.nbctl(
      'lr-add',
      router,
      '--',
      'set',
      'Logical_Router',
      router,
      ...ids,
      'external_ids:"kaas:kind"=vpc-router',
    );
    for (let i = 0; i < 2; i++) {
      await central.nbctl('create', 'DHCP_Options', 'cidr=10.0.0.0/24', ...ids, 'external_ids:"kaas:kind"=vpc-dhcp');
    }
    await central.nbctl('lr-nat-add', router, 'snat', '10.250.0.99', '10.0.0.0/24');
    const nat = (await central.nbctl('--bare', '--columns=_uuid', 'find', 'NAT', 'external_ip=10.250.0.99')).trim();
    await central.nbctl('set', 'NAT', nat, ...ids, 'external_ids:"kaas:kind"=vpc-snat');
    const stray = `stray-${randomUUID()}`;
    await central.nbctl('ls-add', stray, '--', 'lsp-add', stray, s.port.nodeId);

    const result = await controller.ensureVpc(s.vpc);
    expect(result.changes.filter((c) => c.action === 'delete').map((c) => c.table)).toEqual(['DHCP_Options']);
    const rows = await rowsOfVpc(s);
    expect(rows).toHaveLength(VPC_ROWS);
    const [snat] = await ownedBy(client, 'NAT', vpcOwner(s));
    expect(snat.external_ip).toBe('10.250.0.10');
    await controller.ensurePort(s.port);
    const [strayed] = await rowsNamed(client, 'Logical_Switch', stray);
    expect(strayed.ports).toEqual([]);
    const [port] = await rowsNamed(client, 'Logical_Switch_Port', s.port.nodeId);
    expect(port.external_ids['kaas:node-id']).toBe(s.port.nodeId);
    const before = await snapshotModelTables(client);
    await expect(controller.ensureVpc(s.vpc)).resolves.toMatchObject({ changed: false });
    await expect(controller.ensurePort(s.port)).resolves.toMatchObject({ changed: false });
    expect(await snapshotModelTables(client)).toEqual(before);
    await central.nbctl('ls-del', stray);
  });

  it('leaves all or nothing when the connection dies during the write, and the next call completes it', async () => {
    const s = freshNetworkSpecs();
    await new OvnNetworkController(client).ensureProvider(s.provider);
    for (const when of ['before-sending', 'after-sending'] as const) {
      const doomed = await connect();
      // Reads go through; the write is cut off around the moment it is sent.
      const cut: NorthboundTransactor = {
        transact: (db, operations, options) => {
          const isRead = operations.every((o: OvsdbOperation) => o.op === 'select');
          if (isRead) return doomed.transact(db, operations, options);
          if (when === 'before-sending') void doomed.close();
          const pending = doomed.transact(db, operations, options);
          void doomed.close();
          return pending;
        },
      };
      await expect(new OvnNetworkController(cut).ensureVpc(s.vpc)).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      const rows = await rowsOfVpc(s);
      expect([0, VPC_ROWS]).toContain(rows.length);
    }
    const controller = new OvnNetworkController(client);
    await controller.ensureVpc(s.vpc);
    expect(await rowsOfVpc(s)).toHaveLength(VPC_ROWS);
    await expect(controller.ensureVpc(s.vpc)).resolves.toMatchObject({ changed: false });
  });

  it('gives up writing nothing while another writer keeps changing its rows, and cleans up after', async () => {
    const s = freshNetworkSpecs();
    await new OvnNetworkController(client).ensureProvider(s.provider);
    const rival = await connect();
    // Between each observation and its write, a rival adds a DHCP row of the same VPC.
    const contested: NorthboundTransactor = {
      transact: async (db, operations, options) => {
        if (!operations.every((o: OvsdbOperation) => o.op === 'select')) {
          await rival.transact(OVN_NORTHBOUND, [
            nbNetwork.insert('DHCP_Options', {
              cidr: '10.0.0.0/24',
              external_ids: map({
                'kaas:vpc-id': s.vpc.vpcId,
                'kaas:tenant-id': s.vpc.tenantId,
                'kaas:kind': 'vpc-dhcp',
              }),
            }),
          ]);
        }
        return client.transact(db, operations, options);
      },
    };
    const controller = new OvnNetworkController(contested, { maxAttempts: 3, retryDelayMs: 1 });
    await expect(controller.ensureVpc(s.vpc)).rejects.toMatchObject({ code: 'CONTENDED' });
    expect(controller.transactions).toEqual({ reads: 3, writes: 3, conflicts: 3 });
    const rows = await rowsOfVpc(s);
    expect(rows.map((r) => r.kind)).toEqual(['vpc-dhcp', 'vpc-dhcp', 'vpc-dhcp']);

    await new OvnNetworkController(client).ensureVpc(s.vpc);
    const after = await rowsOfVpc(s);
    expect(after).toHaveLength(VPC_ROWS);
    const [dhcp] = await ownedBy(client, 'DHCP_Options', vpcOwner(s));
    expect(await rowByUuid(client, 'DHCP_Options', dhcp._uuid)).toMatchObject({
      options: expect.objectContaining({ mtu: '1442' }),
    });
  });
});
