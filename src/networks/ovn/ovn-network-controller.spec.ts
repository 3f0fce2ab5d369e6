import { describe, expect, it } from '@jest/globals';
import { nodePortScope } from './ovn-model.js';
import { type NorthboundTransactor, OvnNetworkController } from './ovn-network-controller.js';
import { OvsdbError } from './ovsdb-error.js';
import type { OvsdbOperation, OvsdbRow, SelectOperation } from './ovsdb-types.js';
import { IDS, SPECS } from './testing/network-specs.js';
import { convergedRows, selectRows, wireRow } from './testing/observed-rows.js';

const u = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const VPC_ROWS = [
  {
    table: 'Logical_Switch' as const,
    wire: wireRow('Logical_Switch', u(1), {
      name: `kaas-vpc-${IDS.vpc}`,
      external_ids: [
        'map',
        [
          ['kaas:vpc-id', IDS.vpc],
          ['kaas:kind', 'vpc-switch'],
        ],
      ],
    }),
  },
  {
    table: 'DHCP_Options' as const,
    wire: wireRow('DHCP_Options', u(2), {
      external_ids: [
        'map',
        [
          ['kaas:vpc-id', IDS.vpc],
          ['kaas:kind', 'vpc-dhcp'],
        ],
      ],
    }),
  },
];

/**
 * A Northbound stand-in: selects are answered from `rows`; writes are recorded and answered by
 * `onWrite` (by default accepted, changing nothing in `rows`).
 */
function scripted(rows: { table: string; wire: OvsdbRow }[], onWrite: (n: number) => unknown[] | Error = () => []) {
  const writes: OvsdbOperation[][] = [];
  const transactor: NorthboundTransactor = {
    async transact(_db, operations) {
      if (operations.every((o) => o.op === 'select')) {
        return operations.map((o) => selectRows(rows, o as SelectOperation)) as never;
      }
      writes.push([...operations]);
      const answer = onWrite(writes.length);
      if (answer instanceof Error) throw answer;
      return answer as never;
    },
  };
  return { transactor, writes };
}

const conflict = () =>
  new OvsdbError('TRANSACTION_FAILED', 'wait failed', { method: 'transact', error: 'timed out', operation: 'wait' });

describe('OvnNetworkController', () => {
  it('writes one transaction for a missing row, and nothing once it is there', async () => {
    const { transactor, writes } = scripted(VPC_ROWS);
    const controller = new OvnNetworkController(transactor);
    await expect(controller.ensurePort(SPECS.port)).resolves.toMatchObject({ changed: true, attempts: 1 });
    expect(writes).toHaveLength(1);
    expect(controller.transactions).toEqual({ reads: 1, writes: 1, conflicts: 0 });

    const converged = convergedRows(
      nodePortScope(SPECS.port),
      { 'vpc-switch': { table: 'Logical_Switch', uuid: u(1) }, 'vpc-dhcp': { table: 'DHCP_Options', uuid: u(2) } },
      () => u(3),
    );
    const settled = new OvnNetworkController(scripted(converged).transactor);
    await expect(settled.ensurePort(SPECS.port)).resolves.toEqual({ changed: false, changes: [], attempts: 1 });
    expect(settled.transactions).toEqual({ reads: 1, writes: 0, conflicts: 0 });
  });

  it('observes again after a conflict, and gives up with CONTENDED after the last attempt', async () => {
    const once = scripted(VPC_ROWS, (n) => (n === 1 ? conflict() : []));
    const retried = new OvnNetworkController(once.transactor, { retryDelayMs: 1 });
    await expect(retried.ensurePort(SPECS.port)).resolves.toMatchObject({ changed: true, attempts: 2 });
    expect(retried.transactions).toEqual({ reads: 2, writes: 2, conflicts: 1 });

    const always = scripted(VPC_ROWS, () => conflict());
    const stuck = new OvnNetworkController(always.transactor, { maxAttempts: 3, retryDelayMs: 1 });
    await expect(stuck.ensurePort(SPECS.port)).rejects.toMatchObject({ code: 'CONTENDED' });
    expect(stuck.transactions).toEqual({ reads: 3, writes: 3, conflicts: 3 });
  });

  it('passes on failures that another round would not cure', async () => {
    const broken = new OvsdbError('TRANSACTION_FAILED', 'bad', { error: 'constraint violation', operation: 'insert' });
    const closed = new OvsdbError('CONNECTION_CLOSED', 'gone');
    const syntax = new OvsdbError('TRANSACTION_FAILED', 'bad', { error: 'syntax error', operation: 'insert' });
    for (const [failure, retried] of [
      [broken, true],
      [closed, false],
      [syntax, false],
    ] as const) {
      const { transactor } = scripted(VPC_ROWS, () => failure);
      const controller = new OvnNetworkController(transactor, { maxAttempts: 2, retryDelayMs: 1 });
      const err = await controller.ensurePort(SPECS.port).catch((e: unknown) => e);
      expect(controller.transactions.writes).toBe(retried ? 2 : 1);
      if (!retried) expect(err).toBe(failure);
    }
  });

  it('asks about each owner once, and removes the rows of dead owners in one transaction', async () => {
    const deadNode = u(0xdead);
    const port = (uuid: string, node: string) => ({
      table: 'Logical_Switch_Port' as const,
      wire: wireRow('Logical_Switch_Port', uuid, {
        name: node,
        external_ids: [
          'map',
          [
            ['kaas:kind', 'node-port'],
            ['kaas:node-id', node],
            ['kaas:vpc-id', IDS.vpc],
            ['kaas:tenant-id', IDS.tenant],
            ['kaas:cluster-id', IDS.cluster],
          ],
        ],
      }),
    });
    const rows = [...VPC_ROWS, port(u(10), IDS.node), port(u(11), deadNode)];
    const tables = (o: OvsdbOperation) => ('table' in o ? o.table : o.op);
    const { transactor, writes } = scripted(rows);
    const asked: string[] = [];
    const controller = new OvnNetworkController({
      transact: (db, operations, options) =>
        // The stand-in understands no select without conditions: answer those from all rows.
        operations.every((o) => o.op === 'select' && o.where.length === 0)
          ? Promise.resolve(
              operations.map((o) => ({ rows: rows.filter((r) => r.table === tables(o)).map((r) => r.wire) })) as never,
            )
          : transactor.transact(db, operations, options),
    });
    const removed = await controller.collectGarbage({
      vpc: (id) => (asked.push(`vpc ${id}`), true),
      node: (id) => (asked.push(`node ${id}`), id !== deadNode),
      cluster: (id) => (asked.push(`cluster ${id}`), true),
      range: () => true,
    });
    // The VPC rows lack their tenant: malformed, collected without asking anyone.
    expect(removed.map((r) => r.uuid).sort()).toEqual([u(1), u(2), u(11)]);
    expect(new Set(asked).size).toBe(asked.length);
    expect(writes).toHaveLength(1);
    expect(writes[0].map((o) => o.op).sort()).toEqual(['comment', 'delete', 'delete', 'mutate']);
  });
});
