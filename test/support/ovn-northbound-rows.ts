import { MODEL_TABLES } from '../../src/networks/ovn/ovn-desired-rows.js';
import { OVN_NORTHBOUND } from '../../src/networks/ovn/ovn-nb-tables.js';
import {
  decodeNetworkRow,
  nbNetwork,
  type NetworkRow,
  type NetworkTableName,
} from '../../src/networks/ovn/ovn-network-tables.js';
import type { OvsdbClient } from '../../src/networks/ovn/ovsdb-client.js';
import { map, type OvsdbRow } from '../../src/networks/ovn/ovsdb-types.js';

/** Rows of a table whose external_ids include `owner`, decoded. */
export async function ownedBy<T extends NetworkTableName>(
  client: OvsdbClient,
  table: T,
  owner: Record<string, string>,
): Promise<NetworkRow<T>[]> {
  const [result] = await client.transact(OVN_NORTHBOUND, [
    nbNetwork.select(table, [['external_ids' as never, 'includes', map(owner)]]),
  ]);
  return result.rows.map((row) => decodeNetworkRow(table, row));
}

export async function rowByUuid<T extends NetworkTableName>(
  client: OvsdbClient,
  table: T,
  uuid: string,
): Promise<NetworkRow<T> | undefined> {
  const [result] = await client.transact(OVN_NORTHBOUND, [nbNetwork.select(table, [['_uuid', '==', ['uuid', uuid]]])]);
  return result.rows.map((row) => decodeNetworkRow(table, row))[0];
}

export async function rowsNamed<T extends NetworkTableName>(client: OvsdbClient, table: T, name: string) {
  const [result] = await client.transact(OVN_NORTHBOUND, [nbNetwork.select(table, [['name' as never, '==', name]])]);
  return result.rows.map((row) => decodeNetworkRow(table, row));
}

/**
 * Every row of the tables the model writes, but for the columns ovn-northd writes itself (a
 * port's `up`, and so the rows' `_version`): two equal snapshots mean that nobody else wrote.
 */
export async function snapshotModelTables(client: OvsdbClient): Promise<Record<string, OvsdbRow[]>> {
  const results = await client.transact(
    OVN_NORTHBOUND,
    MODEL_TABLES.map((t) => nbNetwork.select(t, [])),
  );
  const byUuid = (a: OvsdbRow, b: OvsdbRow) => JSON.stringify(a['_uuid']).localeCompare(JSON.stringify(b['_uuid']));
  const withoutNorthd = ({ _version: _v, up: _up, ...row }: OvsdbRow) => row;
  return Object.fromEntries(
    MODEL_TABLES.map((t, i) => [t, (results[i] as { rows: OvsdbRow[] }).rows.map(withoutNorthd).sort(byUuid)]),
  );
}
