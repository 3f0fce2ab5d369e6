import { column, decodeRow, defineTable, type DecodedRow, type TableColumns, type WireRow } from './ovsdb-columns.js';
import { ovsdbOperations, type OvsdbRow } from './ovsdb-types.js';

export const OVN_NORTHBOUND = 'OVN_Northbound';

const externalIds = column.map('string', 'string');
const stringMap = column.map('string', 'string');

/**
 * The OVN Northbound tables and the columns of each that the platform uses (schema 7.0.0,
 * OVN 23.03). A column is added here when the platform starts to read or write it.
 */
export const NB_TABLES = {
  NB_Global: defineTable({
    name: column.string,
    nb_cfg: column.integer,
    options: stringMap,
    external_ids: externalIds,
  }),
  Logical_Switch: defineTable({
    name: column.string,
    ports: column.set('uuid'),
    load_balancer: column.set('uuid'),
    other_config: stringMap,
    external_ids: externalIds,
  }),
  Logical_Switch_Port: defineTable({
    name: column.string,
    type: column.string,
    addresses: column.set('string'),
    port_security: column.set('string'),
    dynamic_addresses: column.optional('string'),
    dhcpv4_options: column.optional('uuid'),
    enabled: column.optional('boolean'),
    up: column.optional('boolean'),
    tag_request: column.optional('integer'),
    parent_name: column.optional('string'),
    options: stringMap,
    external_ids: externalIds,
  }),
  Logical_Router: defineTable({
    name: column.string,
    ports: column.set('uuid'),
    static_routes: column.set('uuid'),
    nat: column.set('uuid'),
    load_balancer: column.set('uuid'),
    enabled: column.optional('boolean'),
    options: stringMap,
    external_ids: externalIds,
  }),
  Logical_Router_Port: defineTable({
    name: column.string,
    mac: column.string,
    networks: column.set('string'),
    peer: column.optional('string'),
    enabled: column.optional('boolean'),
    gateway_chassis: column.set('uuid'),
    options: stringMap,
    external_ids: externalIds,
  }),
  NAT: defineTable({
    type: column.string,
    external_ip: column.string,
    logical_ip: column.string,
    logical_port: column.optional('string'),
    external_mac: column.optional('string'),
    gateway_port: column.optional('uuid'),
    options: stringMap,
    external_ids: externalIds,
  }),
  Load_Balancer: defineTable({
    name: column.string,
    vips: stringMap,
    protocol: column.optional('string'),
    health_check: column.set('uuid'),
    ip_port_mappings: stringMap,
    selection_fields: column.set('string'),
    options: stringMap,
    external_ids: externalIds,
  }),
  DHCP_Options: defineTable({
    cidr: column.string,
    options: stringMap,
    external_ids: externalIds,
  }),
  Logical_Router_Static_Route: defineTable({
    ip_prefix: column.string,
    nexthop: column.string,
    output_port: column.optional('string'),
    policy: column.optional('string'),
    route_table: column.string,
    options: stringMap,
    external_ids: externalIds,
  }),
} satisfies Record<string, TableColumns>;

export type NbTableName = keyof typeof NB_TABLES;
export type NbWireRows = { [T in NbTableName]: WireRow<(typeof NB_TABLES)[T]> };
export type NbRow<T extends NbTableName> = DecodedRow<(typeof NB_TABLES)[T]>;

export type NbGlobal = NbRow<'NB_Global'>;
export type LogicalSwitch = NbRow<'Logical_Switch'>;
export type LogicalSwitchPort = NbRow<'Logical_Switch_Port'>;
export type LogicalRouter = NbRow<'Logical_Router'>;
export type LogicalRouterPort = NbRow<'Logical_Router_Port'>;
export type Nat = NbRow<'NAT'>;
export type LoadBalancer = NbRow<'Load_Balancer'>;
export type DhcpOptions = NbRow<'DHCP_Options'>;
export type LogicalRouterStaticRoute = NbRow<'Logical_Router_Static_Route'>;

/** Operation builders that check table names, column names and value shapes at compile time. */
export const nb = ovsdbOperations<NbWireRows>();

/** Decodes a Northbound row; pass the `select`'s columns as `only` when it named some. */
export function decodeNbRow<T extends NbTableName, C extends keyof NbRow<T> & string = keyof NbRow<T> & string>(
  table: T,
  row: OvsdbRow,
  only?: readonly C[],
): Pick<NbRow<T>, C> {
  return decodeRow(NB_TABLES[table] as TableColumns, row, only) as Pick<NbRow<T>, C>;
}
