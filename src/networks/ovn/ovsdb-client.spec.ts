import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nb, OVN_NORTHBOUND } from './ovn-nb-tables.js';
import { OvsdbClient, type TableUpdates } from './ovsdb-client.js';
import { OvsdbError } from './ovsdb-error.js';
import { comment, insert, map, namedUuid, set, uuid } from './ovsdb-types.js';
import { FakeOvsdbServer } from './testing/fake-ovsdb-server.js';

const TESTDATA = join(import.meta.dirname, 'testdata');

/** The golden request, compacted: the client must send exactly these bytes. */
function golden(name: string): string {
  return JSON.stringify(JSON.parse(readFileSync(join(TESTDATA, name), 'utf8')));
}

async function rejection(promise: Promise<unknown>): Promise<OvsdbError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(OvsdbError);
    return err as OvsdbError;
  }
  throw new Error('expected the promise to reject');
}

const ids = {
  tenant: '11111111-1111-4111-8111-111111111111',
  node: '33333333-3333-4333-8333-333333333333',
  vpc: '44444444-4444-4444-8444-444444444444',
  dhcp: '55555555-5555-4555-8555-555555555555',
  floatingIp: '66666666-6666-4666-8666-666666666666',
  router: '77777777-7777-4777-8777-777777777777',
};

describe('OvsdbClient against a scripted server', () => {
  let server: FakeOvsdbServer;
  let client: OvsdbClient | undefined;

  beforeEach(async () => {
    server = await FakeOvsdbServer.start();
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await server.stop();
  });

  async function connect(options = {}): Promise<OvsdbClient> {
    client = await OvsdbClient.connect(server.remote, options);
    await server.connected();
    return client;
  }

  describe('requests on the wire', () => {
    it('sends list_dbs as JSON-RPC 1.0 with numeric ids and returns the names', async () => {
      const c = await connect();
      const dbs = c.listDbs();
      await server.reply(0, ['OVN_Northbound', '_Server']);
      await expect(dbs).resolves.toEqual(['OVN_Northbound', '_Server']);
      const echo = c.echo(['ping', 1]);
      const sent = await server.message(1);
      server.send({ id: sent.id, result: sent.params, error: null });
      await expect(echo).resolves.toEqual(['ping', 1]);
      expect(server.rawText()).toBe(
        '{"method":"list_dbs","params":[],"id":1}{"method":"echo","params":["ping",1],"id":2}',
      );
    });

    it('sends a transaction creating a VPC switch with its port exactly as the golden file', async () => {
      const c = await connect();
      const mac = '02:00:00:0a:00:01 10.0.0.11';
      const tx = c.transact(OVN_NORTHBOUND, [
        nb.insert(
          'Logical_Switch_Port',
          {
            name: ids.node,
            addresses: set([mac]),
            port_security: set([mac]),
            dhcpv4_options: uuid(ids.dhcp),
            external_ids: map({ 'kaas:node-id': ids.node }),
          },
          'port0',
        ),
        nb.insert(
          'Logical_Switch',
          {
            name: 'kaas-vpc-44444444',
            ports: set([namedUuid('port0')]),
            other_config: map({}),
            external_ids: map({ 'kaas:tenant-id': ids.tenant, 'kaas:vpc-id': ids.vpc }),
          },
          'vpc_switch',
        ),
        comment(`kaas: create VPC ${ids.vpc}`),
      ]);
      await server.message(0);
      expect(server.rawText()).toBe(golden('create-vpc-switch.json'));
      await server.reply(0, [{ uuid: ['uuid', ids.node] }, { uuid: ['uuid', ids.vpc] }, {}]);
      const [port, vpcSwitch, noted] = await tx;
      expect(port.uuid).toEqual(['uuid', ids.node]);
      expect(vpcSwitch.uuid).toEqual(['uuid', ids.vpc]);
      expect(noted).toEqual({});
    });

    it('sends wait, mutate, update, delete and select exactly as the golden file', async () => {
      const c = await connect();
      const router = 'kaas-lr-44444444';
      const tx = c.transact(OVN_NORTHBOUND, [
        nb.wait('Logical_Router', [['name', '==', router]], ['name'], '==', [{ name: router }], 0),
        nb.insert(
          'NAT',
          {
            type: 'dnat_and_snat',
            external_ip: '10.250.0.2',
            logical_ip: '10.0.0.11',
            external_ids: map({ 'kaas:floating-ip-id': ids.floatingIp }),
          },
          'fip',
        ),
        nb.mutate(
          'Logical_Router',
          [['_uuid', '==', uuid(ids.router)]],
          [
            ['nat', 'insert', set([namedUuid('fip')])],
            ['external_ids', 'delete', set(['kaas:stale'])],
          ],
        ),
        nb.update('Logical_Router_Port', [['name', '==', 'kaas-lrp-gw']], {
          enabled: false,
          options: map({ gateway_mtu: '1442' }),
        }),
        nb.delete('NAT', [
          ['type', '==', 'snat'],
          ['external_ids', 'includes', map({ 'kaas:vpc-id': ids.vpc })],
        ]),
        nb.select('Logical_Router', [['name', '==', router]], ['_uuid', 'nat', 'external_ids']),
      ]);
      await server.message(0);
      expect(server.rawText()).toBe(golden('change-router.json'));
      const natRow = { _uuid: ['uuid', ids.router], nat: ['uuid', ids.floatingIp], external_ids: ['map', []] };
      await server.reply(0, [
        {},
        { uuid: ['uuid', ids.floatingIp] },
        { count: 1 },
        { count: 1 },
        { count: 0 },
        { rows: [natRow] },
      ]);
      const results = await tx;
      expect(results).toHaveLength(6);
      expect(results[2].count).toBe(1);
      expect(results[4].count).toBe(0);
      expect(results[5].rows).toEqual([natRow]);
    });

    it('returns the schema from get_schema', async () => {
      const c = await connect();
      const schema = c.getSchema(OVN_NORTHBOUND);
      const sent = await server.message(0);
      expect(sent).toEqual({ method: 'get_schema', params: ['OVN_Northbound'], id: 1 });
      const answer = { name: 'OVN_Northbound', version: '7.0.0', tables: { NB_Global: { columns: {} } } };
      await server.reply(0, answer);
      await expect(schema).resolves.toEqual(answer);
    });
  });

  describe('errors', () => {
    it('maps a failed operation to TRANSACTION_FAILED with its index, error and details', async () => {
      const c = await connect();
      const tx = c.transact('OVN_Northbound', [
        insert('Logical_Switch', { name: 'a' }),
        insert('Logical_Switch_Port', { nosuch: 1 }),
        comment('after'),
      ]);
      await server.reply(0, [
        { uuid: ['uuid', ids.vpc] },
        { error: 'unknown column', details: 'No column nosuch in table Logical_Switch_Port.', syntax: '{"nosuch":1}' },
        null,
      ]);
      const err = await rejection(tx);
      expect(err).toMatchObject({
        code: 'TRANSACTION_FAILED',
        method: 'transact',
        operationIndex: 1,
        operation: 'insert',
        error: 'unknown column',
        details: 'No column nosuch in table Logical_Switch_Port.',
        syntax: '{"nosuch":1}',
      });
      expect(err.message).toBe(
        'transaction on OVN_Northbound failed at operation 1 (insert Logical_Switch_Port): unknown column: ' +
          'No column nosuch in table Logical_Switch_Port.',
      );
    });

    it('reports a failed commit (one result past the operations) as operation "commit"', async () => {
      const c = await connect();
      const tx = c.transact('OVN_Northbound', [insert('Logical_Switch_Port', { name: 'p1' })]);
      await server.reply(0, [
        { uuid: ['uuid', ids.node] },
        { error: 'constraint violation', details: 'Transaction causes multiple rows ...' },
      ]);
      const err = await rejection(tx);
      expect(err).toMatchObject({
        code: 'TRANSACTION_FAILED',
        operationIndex: 1,
        operation: 'commit',
        error: 'constraint violation',
      });
      expect(err.message).toMatch(/failed at the commit: constraint violation/);
    });

    it('refuses a short result as a protocol error naming the first operation without a result', async () => {
      const c = await connect();
      const tx = c.transact('OVN_Northbound', [comment('a'), comment('b'), comment('c')]);
      await server.reply(0, [{}]);
      const err = await rejection(tx);
      expect(err).toMatchObject({ code: 'PROTOCOL', operationIndex: 1, operation: 'comment' });
      expect(err.message).toMatch(/answered 1 results for 3 operations/);
      expect(c.isClosed).toBe(false);
    });

    it('maps a JSON-RPC error to REQUEST_FAILED', async () => {
      const c = await connect();
      const tx = c.transact('nosuch', [comment('x')]);
      const sent = await server.message(0);
      server.send({
        id: sent.id,
        result: null,
        error: { error: 'unknown database', details: 'transact request specifies unknown database nosuch' },
      });
      const err = await rejection(tx);
      expect(err).toMatchObject({
        code: 'REQUEST_FAILED',
        method: 'transact',
        error: 'unknown database',
        details: 'transact request specifies unknown database nosuch',
      });
      const other = c.request('frobnicate', []);
      server.send({ id: (await server.message(1)).id, result: null, error: 'unknown method' });
      await expect(other).rejects.toMatchObject({ code: 'REQUEST_FAILED', error: 'unknown method' });
    });

    it('refuses answers of the wrong shape without closing the connection', async () => {
      const c = await connect();
      const dbs = c.listDbs();
      await server.reply(0, { not: 'a list' });
      await expect(dbs).rejects.toMatchObject({
        code: 'PROTOCOL',
        message: expect.stringMatching(/list_dbs: unexpected/),
      });
      const schema = c.getSchema('x');
      await server.reply(1, ['nope']);
      await expect(schema).rejects.toMatchObject({ code: 'PROTOCOL' });
      const tx = c.transact('x', []);
      await server.reply(2, 'nope');
      await expect(tx).rejects.toMatchObject({ code: 'PROTOCOL' });
      expect(c.isClosed).toBe(false);
    });
  });

  describe('the server talking first', () => {
    it('answers echo requests with the same id and params', async () => {
      await connect();
      server.send({ id: 'echo', method: 'echo', params: [] });
      server.send({ id: 42, method: 'echo', params: ['x', { y: 1 }] });
      expect(await server.message(0)).toEqual({ id: 'echo', result: [], error: null });
      expect(await server.message(1)).toEqual({ id: 42, result: ['x', { y: 1 }], error: null });
      expect(server.rawText()).toBe(
        '{"id":"echo","result":[],"error":null}{"id":42,"result":["x",{"y":1}],"error":null}',
      );
    });

    it('answers any other request with an error instead of leaving the server waiting', async () => {
      await connect();
      server.send({ id: 'l1', method: 'locked', params: ['x'] });
      expect(await server.message(0)).toEqual({
        id: 'l1',
        result: null,
        error: { error: 'unknown method', details: 'locked' },
      });
    });

    it('reads answers cut into pieces and answers sent together', async () => {
      const c = await connect();
      const first = c.listDbs();
      const second = c.echo(['b']);
      await server.message(1);
      const text = '{"id":1,"result":["a {\\"}"],"error":null}  {"id":2,"result":["b"],"error":null}';
      for (const piece of text.match(/.{1,3}/g) ?? []) {
        server.send(piece);
        await new Promise((r) => setImmediate(r));
      }
      await expect(first).resolves.toEqual(['a {"}']);
      await expect(second).resolves.toEqual(['b']);
    });
  });

  describe('deadlines and closing', () => {
    it('fails a call that gets no answer in time with TIMEOUT, and drops the late answer', async () => {
      const c = await connect({ callTimeoutMs: 5000 });
      const slow = rejection(c.transact('OVN_Northbound', [comment('x')], { timeoutMs: 50 }));
      await server.message(0);
      const err = await slow;
      expect(err).toMatchObject({ code: 'TIMEOUT', method: 'transact' });
      expect(err.message).toMatch(
        /no answer from unix:.* within 50 ms \(whether the transaction was applied is unknown\)/,
      );
      await server.reply(0, [{}]);
      const next = c.listDbs();
      await server.reply(1, ['OVN_Northbound']);
      await expect(next).resolves.toEqual(['OVN_Northbound']);
    });

    it('uses the connection-wide deadline by default', async () => {
      const c = await connect({ callTimeoutMs: 30 });
      await expect(c.listDbs()).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/30 ms/) });
    });

    it('fails every pending call when the server closes the connection', async () => {
      const c = await connect();
      const calls = Promise.allSettled([c.listDbs(), c.transact('OVN_Northbound', [comment('x')]), c.echo()]);
      await server.message(2);
      server.dropConnection();
      const outcomes = await calls;
      expect(outcomes.map((o) => o.status === 'rejected' && (o.reason as OvsdbError).code)).toEqual([
        'CONNECTION_CLOSED',
        'CONNECTION_CLOSED',
        'CONNECTION_CLOSED',
      ]);
      expect((outcomes[0] as PromiseRejectedResult).reason.message).toMatch(/^list_dbs: connection closed by unix:/);
      await expect(c.closed).resolves.toMatchObject({ code: 'CONNECTION_CLOSED' });
      expect(c.isClosed).toBe(true);
      await expect(c.listDbs()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED', method: 'list_dbs' });
    });

    it('close() fails pending calls, refuses new ones, and may be called twice', async () => {
      const c = await connect();
      const pending = rejection(c.listDbs());
      await server.message(0);
      await c.close();
      await expect(pending).resolves.toMatchObject({
        code: 'CONNECTION_CLOSED',
        message: expect.stringMatching(/closed by the client/),
      });
      await expect(c.echo()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      await c.close();
    });

    it('closes the connection when a message exceeds the size limit', async () => {
      const c = await connect({ maxMessageBytes: 1024 });
      const pending = rejection(c.listDbs());
      await server.message(0);
      server.send('{"id":1,"result":["');
      server.send('x'.repeat(2048));
      const err = await pending;
      expect(err).toMatchObject({ code: 'MESSAGE_TOO_LARGE', message: expect.stringMatching(/limit of 1024 bytes/) });
      await expect(c.closed).resolves.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    });

    it('closes the connection when the stream is not JSON-RPC', async () => {
      const c = await connect();
      const pending = rejection(c.listDbs());
      await server.message(0);
      server.send('{"id":1,"result":[nope]}');
      await expect(pending).resolves.toMatchObject({
        code: 'PROTOCOL',
        message: expect.stringMatching(/not valid JSON/),
      });
      expect(c.isClosed).toBe(true);
    });
  });

  describe('monitors', () => {
    it('passes the initial contents and then each update to one callback, in order', async () => {
      const c = await connect();
      const seen: TableUpdates[] = [];
      const started = c.monitor('OVN_Northbound', { Logical_Switch: { columns: ['name'] } }, (u) => seen.push(u));
      const request = await server.message(0);
      expect(request).toEqual({
        method: 'monitor',
        params: ['OVN_Northbound', 'monitor-1', { Logical_Switch: { columns: ['name'] } }],
        id: 1,
      });
      const initial = { Logical_Switch: { [ids.vpc]: { new: { name: 'a' } } } };
      const update = { Logical_Switch: { [ids.vpc]: { old: { name: 'a' }, new: { name: 'b' } } } };
      // In one write: the update must not overtake the initial contents.
      server.send(
        JSON.stringify({ id: 1, result: initial, error: null }) +
          JSON.stringify({ id: null, method: 'update', params: ['monitor-1', update] }) +
          JSON.stringify({ id: null, method: 'update', params: ['someone-else', update] }),
      );
      const monitor = await started;
      expect(monitor.initial).toEqual(initial);
      expect(seen).toEqual([initial, update]);

      const cancelled = monitor.cancel();
      expect(await server.message(1)).toEqual({ method: 'monitor_cancel', params: ['monitor-1'], id: 2 });
      server.send({ id: null, method: 'update', params: ['monitor-1', update] });
      await server.reply(1, {});
      await cancelled;
      expect(seen).toHaveLength(2);
    });

    it('closes the connection when the update callback throws', async () => {
      const c = await connect();
      let calls = 0;
      const started = c.monitor('db', { T: {} }, () => {
        if (++calls === 2) throw new Error('consumer broke');
      });
      await server.reply(0, {});
      await started;
      const pending = rejection(c.listDbs());
      await server.message(1);
      server.send({ id: null, method: 'update', params: ['monitor-1', { T: {} }] });
      await expect(pending).resolves.toMatchObject({ code: 'CALLBACK_FAILED' });
      const reason = await c.closed;
      expect(reason.message).toMatch(/update callback of monitor-1 threw: consumer broke/);
      expect((reason.cause as Error).message).toBe('consumer broke');
    });

    it('rejects the monitor call when the callback throws on the initial contents', async () => {
      const c = await connect();
      const started = c.monitor('db', { T: {} }, () => {
        throw new Error('no');
      });
      await server.reply(0, {});
      await expect(started).rejects.toMatchObject({ code: 'CALLBACK_FAILED' });
      expect(c.isClosed).toBe(true);
    });
  });
});

describe('OvsdbClient.connect', () => {
  it('refuses an invalid remote before opening anything', async () => {
    await expect(OvsdbClient.connect('localhost:6641')).rejects.toMatchObject({ code: 'INVALID_REMOTE' });
  });

  it('refuses invalid options', async () => {
    await expect(OvsdbClient.connect('unix:/x', { callTimeoutMs: 0 })).rejects.toThrow(/callTimeoutMs must be/);
  });

  it('reports a socket that is not there as CONNECT_FAILED', async () => {
    const err = await rejection(OvsdbClient.connect('unix:/nonexistent/kaas/nb.sock'));
    expect(err.code).toBe('CONNECT_FAILED');
    expect(err.message).toMatch(/could not connect to unix:\/nonexistent\/kaas\/nb.sock: .*ENOENT/);
  });

  it('speaks over loopback TCP as well', async () => {
    const server = await FakeOvsdbServer.start('tcp');
    const client = await OvsdbClient.connect(server.remote);
    try {
      const dbs = client.listDbs();
      await server.reply(0, ['OVN_Northbound']);
      await expect(dbs).resolves.toEqual(['OVN_Northbound']);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
