import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { endpointScope, nodePortRemovalScope, nodePortScope, vpcRemovalScope, vpcScope } from './ovn-model.js';
import { OvnNetworkError } from './ovn-network-error.js';
import { observeScope, planScope } from './ovn-scope-plan.js';
import { IDS, SPECS } from './testing/network-specs.js';
import { convergedRows, observe, wireRow } from './testing/observed-rows.js';
import type { OvsdbOperation } from './ovsdb-types.js';

const TESTDATA = join(import.meta.dirname, 'testdata');
function golden(name: string): unknown {
  return JSON.parse(readFileSync(join(TESTDATA, name), 'utf8'));
}

const u = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const PROVIDER = u(0x900);
const VPC_SWITCH = u(0x901);
const VPC_DHCP = u(0x902);
const VPC_ROUTER = u(0x903);

const providerSwitch = () =>
  wireRow('Logical_Switch', PROVIDER, {
    name: `kaas-provider-${IDS.range}`,
    external_ids: [
      'map',
      [
        ['kaas:range-id', IDS.range],
        ['kaas:kind', 'provider-switch'],
      ],
    ],
  });

const ops = (operations: OvsdbOperation[]) => operations.map((o) => o.op);

describe('planning a scope', () => {
  it('observes a VPC with the selects of the golden file', () => {
    expect(JSON.parse(JSON.stringify(observeScope(vpcScope(SPECS.vpc)).operations))).toEqual(
      golden('plan-observe-vpc.json'),
    );
  });

  it('creates a VPC in one transaction: checks first, then every row, as the golden file', () => {
    const scope = vpcScope(SPECS.vpc);
    const plan = planScope(scope, observe(scope, [{ table: 'Logical_Switch', wire: providerSwitch() }]));
    expect(JSON.parse(JSON.stringify(plan.operations))).toEqual(golden('plan-create-vpc.json'));
    expect(plan.changes.filter((c) => c.action === 'insert')).toHaveLength(scope.desired.length);
  });

  it('plans nothing for rows that already are as they should be', () => {
    const vpc = vpcScope(SPECS.vpc);
    const vpcRows = convergedRows(vpc, { 'provider-switch': { table: 'Logical_Switch', uuid: PROVIDER } }, (i) =>
      u(i + 1),
    );
    expect(planScope(vpc, observe(vpc, vpcRows))).toEqual({ operations: [], changes: [] });

    const port = nodePortScope(SPECS.port);
    const externals = {
      'vpc-switch': { table: 'Logical_Switch' as const, uuid: VPC_SWITCH },
      'vpc-dhcp': { table: 'DHCP_Options' as const, uuid: VPC_DHCP },
    };
    expect(
      planScope(
        port,
        observe(
          port,
          convergedRows(port, externals, (i) => u(i + 100)),
        ),
      ),
    ).toEqual({
      operations: [],
      changes: [],
    });

    const endpoint = endpointScope(SPECS.endpoint);
    const endpointExternals = {
      'vpc-router': { table: 'Logical_Router' as const, uuid: VPC_ROUTER },
      'vpc-switch': { table: 'Logical_Switch' as const, uuid: VPC_SWITCH },
    };
    const endpointRows = convergedRows(endpoint, endpointExternals, (i) => u(i + 200));
    expect(planScope(endpoint, observe(endpoint, endpointRows)).operations).toEqual([]);
  });

  it('changes only the column that drifted, guarded by a wait on what it read', () => {
    const before = vpcScope(SPECS.vpc);
    const rows = convergedRows(before, { 'provider-switch': { table: 'Logical_Switch', uuid: PROVIDER } }, (i) =>
      u(i + 1),
    );
    const after = vpcScope({ ...SPECS.vpc, mtu: 1400 });
    const plan = planScope(after, observe(after, rows));
    expect(plan.changes).toEqual([
      { action: 'update', table: 'DHCP_Options', identity: 'DHCP_Options/kind=vpc-dhcp', uuid: u(2) },
    ]);
    const writes = plan.operations.filter((o) => o.op !== 'wait' && o.op !== 'comment');
    expect(writes).toEqual([
      {
        op: 'update',
        table: 'DHCP_Options',
        where: [['_uuid', '==', ['uuid', u(2)]]],
        row: { options: ['map', expect.arrayContaining([['mtu', '1400']])] },
      },
    ]);
    // The waits come first and restate every lookup's rows as they were read.
    const firstWrite = plan.operations.findIndex((o) => o.op !== 'wait');
    expect(plan.operations.slice(0, firstWrite).every((o) => o.op === 'wait')).toBe(true);
    expect(firstWrite).toBeGreaterThanOrEqual(observeScope(after).operations.length);
  });

  it('keeps one of duplicated rows, the same one every caller would keep, and removes the rest', () => {
    const scope = vpcScope(SPECS.vpc);
    const rows = convergedRows(scope, { 'provider-switch': { table: 'Logical_Switch', uuid: PROVIDER } }, (i) =>
      u(i + 10),
    );
    const dhcp = rows.find((r) => r.table === 'DHCP_Options')!;
    const twin = { table: 'DHCP_Options' as const, wire: { ...dhcp.wire, _uuid: ['uuid', u(1)] as ['uuid', string] } };
    const plan = planScope(scope, observe(scope, [...rows, twin]));
    // u(1) sorts first, so it stays; the original (u(11)) goes.
    expect(plan.changes).toEqual([
      { action: 'delete', table: 'DHCP_Options', identity: 'DHCP_Options/kind=vpc-dhcp', uuid: u(11) },
    ]);
    expect(ops(plan.operations).filter((o) => o !== 'wait')).toEqual(['delete', 'comment']);
  });

  it('moves a port held by the wrong switch in one transaction', () => {
    const scope = nodePortScope(SPECS.port);
    const externals = {
      'vpc-switch': { table: 'Logical_Switch' as const, uuid: VPC_SWITCH },
      'vpc-dhcp': { table: 'DHCP_Options' as const, uuid: VPC_DHCP },
    };
    const rows = convergedRows(scope, externals, () => u(0x500));
    const vpcSwitch = rows.find((r) => (r.wire['_uuid'] as [string, string])[1] === VPC_SWITCH)!;
    vpcSwitch.wire['ports'] = ['set', []];
    const plan = planScope(scope, observe(scope, rows));
    expect(plan.operations.filter((o) => o.op === 'mutate')).toEqual([
      {
        op: 'mutate',
        table: 'Logical_Switch',
        where: [['ports', 'includes', ['uuid', u(0x500)]]],
        mutations: [['ports', 'delete', ['set', [['uuid', u(0x500)]]]]],
      },
      {
        op: 'mutate',
        table: 'Logical_Switch',
        where: [['_uuid', '==', ['uuid', VPC_SWITCH]]],
        mutations: [['ports', 'insert', ['set', [['uuid', u(0x500)]]]]],
      },
    ]);
  });

  it('refuses to plan a port whose VPC is not there, naming what to ensure first', () => {
    const scope = nodePortScope(SPECS.port);
    let err: unknown;
    try {
      planScope(scope, observe(scope, []));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OvnNetworkError);
    expect(err).toMatchObject({ code: 'DEPENDENCY_MISSING', message: expect.stringContaining('ensureVpc first') });
  });

  it('removes non-root rows by letting go of them, root rows by deleting them', () => {
    const port = nodePortScope(SPECS.port);
    const portRows = convergedRows(
      port,
      {
        'vpc-switch': { table: 'Logical_Switch', uuid: VPC_SWITCH },
        'vpc-dhcp': { table: 'DHCP_Options', uuid: VPC_DHCP },
      },
      () => u(0x600),
    );
    const removePort = nodePortRemovalScope(IDS.node);
    const plan = planScope(removePort, observe(removePort, portRows));
    expect(plan.operations.filter((o) => o.op !== 'wait' && o.op !== 'comment')).toEqual([
      {
        op: 'mutate',
        table: 'Logical_Switch',
        where: [['ports', 'includes', ['uuid', u(0x600)]]],
        mutations: [['ports', 'delete', ['set', [['uuid', u(0x600)]]]]],
      },
    ]);

    const vpc = vpcScope(SPECS.vpc);
    const vpcRows = convergedRows(vpc, { 'provider-switch': { table: 'Logical_Switch', uuid: PROVIDER } }, (i) =>
      u(i + 1),
    );
    const removeVpc = vpcRemovalScope(IDS.vpc);
    const removal = planScope(
      removeVpc,
      observe(removeVpc, [...vpcRows, ...portRows.filter((r) => r.table === 'Logical_Switch_Port')]),
    );
    const deleted = removal.changes.map((c) => c.table).sort();
    expect(deleted).toEqual([...vpc.desired.map((d) => d.table), 'Logical_Switch_Port'].sort());
    const deletes = removal.operations.filter((o) => o.op === 'delete').map((o) => ('table' in o ? o.table : ''));
    expect(deletes.sort()).toEqual(['DHCP_Options', 'Logical_Router', 'Logical_Switch']);
    // The provider switch is not the VPC's: its ports lose the gateway port, nothing more.
    expect(JSON.stringify(removal.operations)).not.toContain(`["_uuid","==",["uuid","${PROVIDER}"]]`);
  });
});
