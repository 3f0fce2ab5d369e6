import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { decodeNbRow, nb, NB_TABLES, OVN_NORTHBOUND } from '../../src/networks/ovn/ovn-nb-tables.js';
import { OvsdbClient, type TableUpdates } from '../../src/networks/ovn/ovsdb-client.js';
import { describeColumnType } from '../../src/networks/ovn/ovsdb-columns.js';
import { OvsdbError } from '../../src/networks/ovn/ovsdb-error.js';
import { comment, map, namedUuid, set, uuid } from '../../src/networks/ovn/ovsdb-types.js';
import { OVN_NB_SCHEMA, type OvsdbServer, startOvsdbServer } from '../support/ovsdb-server.js';

/** What `ovn-nbctl --format=json list|find` prints. */
interface NbctlTable {
  headings: string[];
  data: unknown[][];
}

describe('OvsdbClient against a real ovsdb-server with the OVN Northbound schema', () => {
  let server: OvsdbServer;
  let client: OvsdbClient;

  beforeAll(async () => {
    server = await startOvsdbServer({ schema: OVN_NB_SCHEMA, tcp: true, tools: ['ovn-nbctl'] });
    client = await OvsdbClient.connect(server.remote);
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  /** ovn-nbctl, the OVN tool, as an independent reader of the same database. */
  async function nbctl(...args: string[]): Promise<string> {
    return (await server.exec('ovn-nbctl', [`--db=${server.remote}`, ...args])).stdout;
  }
  async function nbctlJson(...args: string[]): Promise<Record<string, unknown>[]> {
    const table = JSON.parse(await nbctl('--format=json', ...args)) as NbctlTable;
    return table.data.map((row) => Object.fromEntries(table.headings.map((h, i) => [h, row[i]])));
  }

  async function findSwitch(name: string) {
    const [result] = await client.transact(OVN_NORTHBOUND, [nb.select('Logical_Switch', [['name', '==', name]])]);
    return result.rows.map((row) => decodeNbRow('Logical_Switch', row));
  }

  async function findPorts(names: string[]) {
    const [result] = await client.transact(OVN_NORTHBOUND, [nb.select('Logical_Switch_Port', [])]);
    return result.rows.map((row) => decodeNbRow('Logical_Switch_Port', row)).filter((p) => names.includes(p.name));
  }

  /** A switch with one port, created in one transaction; names unique to the calling test. */
  async function createSwitchWithPort(label: string) {
    const name = `${label}-${randomUUID().slice(0, 8)}`;
    const portName = randomUUID();
    const [portInsert, switchInsert] = await client.transact(OVN_NORTHBOUND, [
      nb.insert(
        'Logical_Switch_Port',
        {
          name: portName,
          addresses: set(['02:00:00:0a:00:01 10.0.0.11']),
          external_ids: map({ 'kaas:node-id': portName }),
        },
        'new_port',
      ),
      nb.insert(
        'Logical_Switch',
        { name, ports: set([namedUuid('new_port')]), external_ids: map({ 'kaas:vpc-id': name }) },
        'new_switch',
      ),
    ]);
    return { name, portName, switchUuid: switchInsert.uuid[1], portUuid: portInsert.uuid[1] };
  }

  async function expectTransactionFailure(promise: Promise<unknown>): Promise<OvsdbError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OvsdbError);
    return err as OvsdbError;
  }

  it('lists OVN_Northbound among its databases', async () => {
    await expect(client.listDbs()).resolves.toEqual(expect.arrayContaining([OVN_NORTHBOUND]));
  });

  it('serves a schema that every typed table description agrees with', async () => {
    const schema = await client.getSchema(OVN_NORTHBOUND);
    expect(schema.name).toBe(OVN_NORTHBOUND);
    for (const [table, columns] of Object.entries(NB_TABLES)) {
      for (const [column, descriptor] of Object.entries(columns)) {
        if (column === '_uuid' || column === '_version') continue;
        const type = schema.tables[table]?.columns[column]?.type;
        expect({ table, column, described: descriptor }).toEqual({
          table,
          column,
          described: type === undefined ? 'missing from the schema' : describeColumnType(type),
        });
      }
    }
  });

  it('creates a switch and its port in one transaction, referenced by named UUID', async () => {
    const { name, portName, switchUuid, portUuid } = await createSwitchWithPort('create');

    expect(await findSwitch(name)).toEqual([
      expect.objectContaining({ _uuid: switchUuid, name, ports: [portUuid], external_ids: { 'kaas:vpc-id': name } }),
    ]);
    const [port] = await findPorts([portName]);
    expect(port).toMatchObject({
      _uuid: portUuid,
      addresses: ['02:00:00:0a:00:01 10.0.0.11'],
      external_ids: { 'kaas:node-id': portName },
      enabled: undefined,
    });

    // Read back by OVN's own tool.
    expect(await nbctl('show')).toContain(`switch ${switchUuid} (${name})\n    port ${portName}\n`);
    const [listed] = await nbctlJson('--columns=_uuid,name,external_ids,ports', 'list', 'Logical_Switch', name);
    expect(listed).toEqual({
      _uuid: ['uuid', switchUuid],
      name,
      external_ids: ['map', [['kaas:vpc-id', name]]],
      ports: ['uuid', portUuid],
    });
  });

  it('mutates external_ids and adds a port to an existing switch', async () => {
    const { name, switchUuid, portUuid } = await createSwitchWithPort('mutate');
    const secondPort = randomUUID();
    const results = await client.transact(OVN_NORTHBOUND, [
      nb.insert('Logical_Switch_Port', { name: secondPort }, 'second'),
      nb.mutate(
        'Logical_Switch',
        [['_uuid', '==', uuid(switchUuid)]],
        [
          ['ports', 'insert', set([namedUuid('second')])],
          ['external_ids', 'insert', map({ 'kaas:tenant-id': 't-1' })],
          ['external_ids', 'delete', set(['kaas:vpc-id'])],
        ],
      ),
      comment('kaas: add a port'),
    ]);
    expect(results[1]).toEqual({ count: 1 });
    const secondUuid = results[0].uuid[1];

    const [updated] = await findSwitch(name);
    expect(new Set(updated.ports)).toEqual(new Set([portUuid, secondUuid]));
    expect(updated.external_ids).toEqual({ 'kaas:tenant-id': 't-1' });
    const [listed] = await nbctlJson('--columns=external_ids,ports', 'list', 'Logical_Switch', name);
    expect(listed.external_ids).toEqual(['map', [['kaas:tenant-id', 't-1']]]);
    expect(listed.ports).toEqual([
      'set',
      expect.arrayContaining([
        ['uuid', portUuid],
        ['uuid', secondUuid],
      ]),
    ]);

    // A mutation that matches no row changes nothing and says so.
    const [none] = await client.transact(OVN_NORTHBOUND, [
      nb.mutate('Logical_Switch', [['name', '==', `${name}-absent`]], [['external_ids', 'insert', map({ a: 'b' })]]),
    ]);
    expect(none).toEqual({ count: 0 });
  });

  it('applies nothing of a transaction whose commit breaks an index (a port name taken)', async () => {
    const { portName } = await createSwitchWithPort('taken');
    const other = `clash-${randomUUID().slice(0, 8)}`;
    const operations = [
      nb.insert('Logical_Switch_Port', { name: portName }, 'dup'),
      nb.insert('Logical_Switch', { name: other, ports: set([namedUuid('dup')]) }),
    ];
    const err = await expectTransactionFailure(client.transact(OVN_NORTHBOUND, operations));
    expect(err).toMatchObject({
      code: 'TRANSACTION_FAILED',
      error: 'constraint violation',
      operation: 'commit',
      operationIndex: operations.length,
    });
    expect(err.details).toMatch(/identical values \(.*\) for index on column "name"/);

    expect(await findSwitch(other)).toEqual([]);
    expect(await findPorts([portName])).toHaveLength(1);
    expect(await nbctlJson('find', 'Logical_Switch', `name=${other}`)).toEqual([]);
  });

  it('applies nothing of a transaction whose operation fails part-way (a wait that does not hold)', async () => {
    const name = `waited-${randomUUID().slice(0, 8)}`;
    const err = await expectTransactionFailure(
      client.transact(OVN_NORTHBOUND, [
        nb.insert('Logical_Switch', { name }),
        // The precondition a reconciler would state: "the router I looked at still exists".
        nb.wait('Logical_Router', [['name', '==', 'kaas-lr-gone']], ['name'], '==', [{ name: 'kaas-lr-gone' }], 0),
        comment('never reached'),
      ]),
    );
    expect(err).toMatchObject({ code: 'TRANSACTION_FAILED', operationIndex: 1, operation: 'wait', error: 'timed out' });
    expect(await findSwitch(name)).toEqual([]);
    expect(await nbctlJson('find', 'Logical_Switch', `name=${name}`)).toEqual([]);
  });

  it('refuses a reference to a row that does not exist', async () => {
    const name = `dangling-${randomUUID().slice(0, 8)}`;
    const err = await expectTransactionFailure(
      client.transact(OVN_NORTHBOUND, [nb.insert('Logical_Switch', { name, ports: uuid(randomUUID()) })]),
    );
    expect(err).toMatchObject({ code: 'TRANSACTION_FAILED', error: 'referential integrity violation' });
    expect(await findSwitch(name)).toEqual([]);
  });

  it('reports an unknown database as REQUEST_FAILED and keeps the connection', async () => {
    await expect(client.transact('OVN_Nowhere', [comment('x')])).rejects.toMatchObject({
      code: 'REQUEST_FAILED',
      error: 'unknown database',
    });
    await expect(client.getSchema('OVN_Nowhere')).rejects.toMatchObject({ code: 'REQUEST_FAILED' });
    await expect(client.echo(['still', 'here'])).resolves.toEqual(['still', 'here']);
  });

  it('deletes a switch, and its ports with it since they are not root rows', async () => {
    const { name, portName } = await createSwitchWithPort('delete');
    const [deleted] = await client.transact(OVN_NORTHBOUND, [nb.delete('Logical_Switch', [['name', '==', name]])]);
    expect(deleted).toEqual({ count: 1 });
    expect(await findSwitch(name)).toEqual([]);
    expect(await findPorts([portName])).toEqual([]);
    expect(await nbctl('show')).not.toContain(name);
    expect(await nbctlJson('find', 'Logical_Switch_Port', `name=${portName}`)).toEqual([]);
  });

  it('sees through a monitor the changes another writer makes', async () => {
    const name = `watched-${randomUUID().slice(0, 8)}`;
    const updates: TableUpdates[] = [];
    const monitor = await client.monitor(OVN_NORTHBOUND, { Logical_Switch: { columns: ['name'] } }, (u) =>
      updates.push(u),
    );
    try {
      expect(updates).toEqual([monitor.initial]);
      await nbctl('ls-add', name);
      const inserted = await waitForRow(updates, (row) => row.new?.['name'] === name);
      await nbctl('ls-del', name);
      await waitForRow(updates, (row, id) => id === inserted && row.new === undefined && row.old?.['name'] === name);
    } finally {
      await monitor.cancel();
    }
    const seen = updates.length;
    await nbctl('ls-add', `${name}-after`);
    await client.echo();
    expect(updates).toHaveLength(seen);
  });

  it('keeps an idle TCP session open by answering the server’s inactivity probes', async () => {
    const tcpRemote = server.tcpRemote as string;
    const tcpClient = await OvsdbClient.connect(tcpRemote);
    // Control: a peer that never answers is probed after 5 s and dropped 5 s later.
    const [host, port] = tcpRemote.slice('tcp:'.length).split(':');
    const silent = connect(Number(port), host);
    let probe = '';
    silent.on('data', (d: Buffer) => (probe += d.toString()));
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    try {
      await silentClosed;
      expect(JSON.parse(probe)).toEqual({ id: 'echo', method: 'echo', params: [] });
      // The client connected first, so without answers it would have been dropped first; the
      // pause lets such a drop reach us before we look.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(tcpClient.isClosed).toBe(false);
      await expect(tcpClient.listDbs()).resolves.toContain(OVN_NORTHBOUND);
    } finally {
      silent.destroy();
      await tcpClient.close();
    }
  }, 30_000);
});

/** Waits for a row update matching `match`; returns that row's UUID. */
async function waitForRow(
  updates: TableUpdates[],
  match: (row: { old?: Record<string, unknown>; new?: Record<string, unknown> }, id: string) => boolean,
): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    for (const u of updates) {
      for (const [id, row] of Object.entries(u['Logical_Switch'] ?? {})) if (match(row, id)) return id;
    }
    if (Date.now() > deadline) throw new Error(`no matching update among ${JSON.stringify(updates)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
