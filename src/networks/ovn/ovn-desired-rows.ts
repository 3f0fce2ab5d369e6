import type { NetworkTableName } from './ovn-network-tables.js';

/*
 * The vocabulary shared by the network model (what should exist) and the planner (what to write
 * so that it does): owner keys, row kinds, and desired rows described in plain JavaScript values.
 */

/** external_ids keys that name a row's owners; a row lives only while every owner it names does. */
export const OwnerKey = {
  vpc: 'kaas:vpc-id',
  tenant: 'kaas:tenant-id',
  node: 'kaas:node-id',
  cluster: 'kaas:cluster-id',
  range: 'kaas:range-id',
} as const;
export const KIND_KEY = 'kaas:kind';

export const RowKind = {
  VpcSwitch: 'vpc-switch',
  VpcDhcp: 'vpc-dhcp',
  VpcRouter: 'vpc-router',
  /** The router's port into the VPC switch (holds the VPC gateway address). */
  VpcRouterPort: 'vpc-router-port',
  /** Its peer on the VPC switch. */
  VpcSwitchRouterPort: 'vpc-switch-router-port',
  /** The router's port on the provider network (holds the router's provider address). */
  VpcGatewayPort: 'vpc-gateway-port',
  /** Its peer on the provider switch. */
  VpcProviderRouterPort: 'vpc-provider-router-port',
  VpcGatewayChassis: 'vpc-gateway-chassis',
  VpcSnat: 'vpc-snat',
  /** The router's default route, to the provider network's gateway. */
  VpcDefaultRoute: 'vpc-default-route',
  ProviderSwitch: 'provider-switch',
  ProviderLocalnet: 'provider-localnet',
  NodePort: 'node-port',
  EndpointLoadBalancer: 'endpoint-lb',
  EndpointHealthCheck: 'endpoint-health-check',
} as const;
export type RowKind = (typeof RowKind)[keyof typeof RowKind];

const KINDS = new Set<string>(Object.values(RowKind));
export function isRowKind(value: unknown): value is RowKind {
  return typeof value === 'string' && KINDS.has(value);
}

/** The owner ids each kind must carry; a row of a kind missing one of them is malformed. */
export const REQUIRED_OWNERS: Record<RowKind, (keyof typeof OwnerKey)[]> = {
  [RowKind.VpcSwitch]: ['vpc', 'tenant'],
  [RowKind.VpcDhcp]: ['vpc', 'tenant'],
  [RowKind.VpcRouter]: ['vpc', 'tenant'],
  [RowKind.VpcRouterPort]: ['vpc', 'tenant'],
  [RowKind.VpcSwitchRouterPort]: ['vpc', 'tenant'],
  [RowKind.VpcGatewayPort]: ['vpc', 'tenant'],
  [RowKind.VpcProviderRouterPort]: ['vpc', 'tenant', 'range'],
  [RowKind.VpcGatewayChassis]: ['vpc', 'tenant'],
  [RowKind.VpcSnat]: ['vpc', 'tenant'],
  [RowKind.VpcDefaultRoute]: ['vpc', 'tenant'],
  [RowKind.ProviderSwitch]: ['range'],
  [RowKind.ProviderLocalnet]: ['range'],
  [RowKind.NodePort]: ['node', 'vpc', 'tenant', 'cluster'],
  [RowKind.EndpointLoadBalancer]: ['cluster', 'vpc', 'tenant'],
  [RowKind.EndpointHealthCheck]: ['cluster', 'vpc', 'tenant'],
};

/** A row another scope owns that this one needs (a parent to hang rows on, or a reference). */
export interface ExternalRow {
  readonly id: string;
  readonly table: NetworkTableName;
  /** external_ids the row carries (an `includes` match). */
  readonly owner: Readonly<Record<string, string>>;
  /** Said when the row is absent: which call creates it. */
  readonly missing: string;
}

/** Resolved to the UUID of an external row when the plan is made. */
export interface RowReference {
  readonly ref: string;
}
export type DesiredAtom = string | number | boolean;
/** A column's desired value; `null` is the empty value of an optional column. */
export type DesiredValue = DesiredAtom | DesiredAtom[] | Readonly<Record<string, string>> | RowReference | null;

/**
 * A child row held in a set column of a parent: a port in a switch, a NAT rule in a router, a
 * load balancer in a router (weakly). Non-root rows exist only while some parent holds them.
 */
export interface ParentLink {
  readonly table: NetworkTableName;
  readonly column: string;
  /** The identity of a desired row of the same scope, or the id of an external row. */
  readonly parent: { readonly row: string } | { readonly external: string };
}

export interface DesiredRow {
  readonly table: NetworkTableName;
  /**
   * Every column the scope owns in this row. Columns left out (a switch's ports, a port's `up`)
   * belong to someone else and are neither compared nor written.
   */
  readonly columns: Readonly<Record<string, DesiredValue>>;
  readonly parents: readonly ParentLink[];
}

/** Rows of one table that a scope owns: whatever matches and is not desired is removed. */
export interface ScopeQuery {
  readonly table: NetworkTableName;
  readonly owner: Readonly<Record<string, string>>;
}

/**
 * What one controller call brings about: the rows that must exist (and nothing else among those
 * its queries find), in one transaction.
 */
export interface NetworkScope {
  /** For transaction comments and messages, e.g. "VPC 4444…". */
  readonly description: string;
  readonly queries: readonly ScopeQuery[];
  readonly desired: readonly DesiredRow[];
  readonly externals: readonly ExternalRow[];
}

/** Tables whose rows have a `name` we choose: rows are told apart (and adopted) by it. */
const NAMED_TABLES = new Set<NetworkTableName>([
  'Logical_Switch',
  'Logical_Switch_Port',
  'Logical_Router',
  'Logical_Router_Port',
  'Load_Balancer',
  'Gateway_Chassis',
]);

export function isNamedTable(table: NetworkTableName): boolean {
  return NAMED_TABLES.has(table);
}

/**
 * How a row is recognised within a scope: by table and name where we name rows, otherwise by
 * table and kind (a VPC has one DHCP_Options row, one SNAT rule, ...).
 */
export function rowIdentity(table: NetworkTableName, name: unknown, externalIds: Readonly<Record<string, unknown>>) {
  if (isNamedTable(table)) return `${table}/name=${String(name)}`;
  return `${table}/kind=${String(externalIds[KIND_KEY] ?? '')}`;
}

export function desiredIdentity(row: DesiredRow): string {
  return rowIdentity(row.table, row.columns['name'], (row.columns['external_ids'] ?? {}) as Record<string, string>);
}

/**
 * Where a non-root row is held: removing it means taking it out of these columns (the server
 * then drops it at commit). Root tables are deleted outright.
 */
export const HOLDERS: Partial<Record<NetworkTableName, readonly { table: NetworkTableName; column: string }[]>> = {
  Logical_Switch_Port: [{ table: 'Logical_Switch', column: 'ports' }],
  Logical_Router_Port: [{ table: 'Logical_Router', column: 'ports' }],
  NAT: [{ table: 'Logical_Router', column: 'nat' }],
  Logical_Router_Static_Route: [{ table: 'Logical_Router', column: 'static_routes' }],
  Gateway_Chassis: [{ table: 'Logical_Router_Port', column: 'gateway_chassis' }],
  Load_Balancer_Health_Check: [{ table: 'Load_Balancer', column: 'health_check' }],
};

/** Every table the model writes, in the order a full listing reads them. */
export const MODEL_TABLES: readonly NetworkTableName[] = [
  'Logical_Switch',
  'Logical_Switch_Port',
  'Logical_Router',
  'Logical_Router_Port',
  'Gateway_Chassis',
  'NAT',
  'Logical_Router_Static_Route',
  'DHCP_Options',
  'Load_Balancer',
  'Load_Balancer_Health_Check',
];

/** external_ids of a row: its kind and the owner ids given. */
export function ownerIds(ids: Partial<Record<keyof typeof OwnerKey, string>>, kind: RowKind): Record<string, string> {
  const out: Record<string, string> = { [KIND_KEY]: kind };
  for (const [key, value] of Object.entries(ids))
    if (value !== undefined) out[OwnerKey[key as keyof typeof OwnerKey]] = value;
  return out;
}

export function scopeQuery(table: NetworkTableName, owner: Record<string, string>): ScopeQuery {
  return { table, owner };
}

/** A row of a VPC that a port or an endpoint hangs on or refers to. */
export function vpcDependency(id: string, table: NetworkTableName, kind: RowKind, vpcId: string): ExternalRow {
  return {
    id,
    table,
    owner: { [OwnerKey.vpc]: vpcId, [KIND_KEY]: kind },
    missing: `VPC ${vpcId} is not in the Northbound database: ensureVpc first`,
  };
}
