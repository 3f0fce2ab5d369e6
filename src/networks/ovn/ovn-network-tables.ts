import { NB_TABLES } from './ovn-nb-tables.js';
import { column, decodeRow, defineTable, type DecodedRow, type TableColumns, type WireRow } from './ovsdb-columns.js';
import { ovsdbOperations, type OvsdbRow } from './ovsdb-types.js';

/**
 * The Northbound tables the network model writes: those of `ovn-nb-tables.ts` plus the two that
 * only the model needs (a router port's gateway chassis, a load balancer's health check). Kept
 * apart so that the general table list stays the one the client's own tests pin down.
 */
export const NETWORK_TABLES = {
  ...NB_TABLES,
  Gateway_Chassis: defineTable({
    name: column.string,
    chassis_name: column.string,
    priority: column.integer,
    options: column.map('string', 'string'),
    external_ids: column.map('string', 'string'),
  }),
  Load_Balancer_Health_Check: defineTable({
    vip: column.string,
    options: column.map('string', 'string'),
    external_ids: column.map('string', 'string'),
  }),
} satisfies Record<string, TableColumns>;

export type NetworkTableName = keyof typeof NETWORK_TABLES;
export type NetworkWireRows = { [T in NetworkTableName]: WireRow<(typeof NETWORK_TABLES)[T]> };
export type NetworkRow<T extends NetworkTableName> = DecodedRow<(typeof NETWORK_TABLES)[T]>;

/** Operation builders over the model's tables, checked at compile time like `nb`. */
export const nbNetwork = ovsdbOperations<NetworkWireRows>();

export function decodeNetworkRow<T extends NetworkTableName>(table: T, row: OvsdbRow): NetworkRow<T> {
  return decodeRow(NETWORK_TABLES[table] as TableColumns, row) as NetworkRow<T>;
}
