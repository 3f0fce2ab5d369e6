import {
  isNamedTable,
  isRowKind,
  KIND_KEY,
  MODEL_TABLES,
  type NetworkScope,
  OwnerKey,
  REQUIRED_OWNERS,
  type RowKind,
} from './ovn-desired-rows.js';
import {
  type ClusterEndpointSpec,
  endpointRemovalScope,
  endpointScope,
  type NodePortSpec,
  nodePortRemovalScope,
  nodePortScope,
  type ProviderNetworkSpec,
  providerRemovalScope,
  providerScope,
  vpcRemovalScope,
  vpcScope,
  type VpcNetworkSpec,
} from './ovn-model.js';
import { OVN_NORTHBOUND } from './ovn-nb-tables.js';
import { OvnNetworkError, OvnNetworkErrorCode } from './ovn-network-error.js';
import { type NetworkTableName, nbNetwork } from './ovn-network-tables.js';
import { observeScope, type PlannedChange, planScope, removalOperations } from './ovn-scope-plan.js';
import type { CallOptions } from './ovsdb-client.js';
import { isOvsdbError, OvsdbErrorCode } from './ovsdb-error.js';
import { comment, decodeMap, type OvsdbOperation, type ResultsOf, type SelectResult } from './ovsdb-types.js';

/** What the controller needs of a Northbound connection; `OvsdbClient` is one. */
export interface NorthboundTransactor {
  transact<const Ops extends readonly OvsdbOperation[]>(
    db: string,
    operations: Ops,
    options?: CallOptions,
  ): Promise<ResultsOf<Ops>>;
}

/** Transactions sent to the Northbound database since the controller was made. */
export interface NorthboundTransactionCounts {
  /** Observations: selects only. */
  reads: number;
  /** Transactions that changed something (or tried to: conflicts count here too). */
  writes: number;
  /** Writes refused because what they were planned on had changed; each was planned again. */
  conflicts: number;
}

export interface ReconcileResult {
  /** False when the rows already were as they should be: then only one read was sent. */
  changed: boolean;
  changes: PlannedChange[];
  /** Observe-and-write rounds it took (more than one after a conflict). */
  attempts: number;
}

export interface OwnedRow {
  table: NetworkTableName;
  uuid: string;
  name?: string;
  kind: RowKind;
  owners: { vpcId?: string; tenantId?: string; nodeId?: string; clusterId?: string; rangeId?: string };
}

/** Whether a platform record still exists; asked once per id per collection. */
export interface OwnerLiveness {
  vpc(id: string): boolean | Promise<boolean>;
  node(id: string): boolean | Promise<boolean>;
  cluster(id: string): boolean | Promise<boolean>;
  range(id: string): boolean | Promise<boolean>;
}

export interface OvnNetworkControllerOptions {
  /** Observe-and-write rounds before giving up with CONTENDED. */
  maxAttempts?: number;
  /** Upper bound of the random pause before a round after a conflict, doubled each time. */
  retryDelayMs?: number;
  callTimeoutMs?: number;
}

/**
 * Brings the platform's rows in the OVN Northbound database to what the model says, one scope
 * (a VPC, a provider network, a node's port, a cluster's endpoint) per call. Each call observes
 * the scope, and writes at most one transaction, which changes nothing if what it was planned on
 * has changed meanwhile; it is then planned again. So calls are idempotent (a second call reads
 * and writes nothing), concurrent calls on one scope cannot create a row twice, and a call that
 * fails or dies leaves either everything or nothing of its transaction: the next call completes
 * whatever an earlier one, or a hand, left half done.
 */
export class OvnNetworkController {
  private readonly counts: NorthboundTransactionCounts = { reads: 0, writes: 0, conflicts: 0 };
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly callOptions: CallOptions;

  constructor(
    private readonly nb: NorthboundTransactor,
    options: OvnNetworkControllerOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.retryDelayMs = options.retryDelayMs ?? 20;
    this.callOptions = options.callTimeoutMs === undefined ? {} : { timeoutMs: options.callTimeoutMs };
  }

  get transactions(): Readonly<NorthboundTransactionCounts> {
    return { ...this.counts };
  }

  ensureVpc(spec: VpcNetworkSpec): Promise<ReconcileResult> {
    return this.reconcile(vpcScope(spec));
  }

  /** Removes the VPC's rows and everything else that names it: its nodes' ports, its endpoints. */
  removeVpc(vpcId: string): Promise<ReconcileResult> {
    return this.reconcile(vpcRemovalScope(vpcId));
  }

  ensureProvider(spec: ProviderNetworkSpec): Promise<ReconcileResult> {
    return this.reconcile(providerScope(spec));
  }

  removeProvider(rangeId: string): Promise<ReconcileResult> {
    return this.reconcile(providerRemovalScope(rangeId));
  }

  /** Needs the port's VPC (DEPENDENCY_MISSING otherwise). */
  ensurePort(spec: NodePortSpec): Promise<ReconcileResult> {
    return this.reconcile(nodePortScope(spec));
  }

  removePort(nodeId: string): Promise<ReconcileResult> {
    return this.reconcile(nodePortRemovalScope(nodeId));
  }

  /** Needs the endpoint's VPC (DEPENDENCY_MISSING otherwise). */
  ensureEndpoint(spec: ClusterEndpointSpec): Promise<ReconcileResult> {
    return this.reconcile(endpointScope(spec));
  }

  removeEndpoint(clusterId: string): Promise<ReconcileResult> {
    return this.reconcile(endpointRemovalScope(clusterId));
  }

  /** Every row that carries a `kaas:kind` this model knows, with its owners. */
  async listOwnedRows(): Promise<OwnedRow[]> {
    const selects = MODEL_TABLES.map((table) =>
      nbNetwork.select(
        table,
        [],
        (isNamedTable(table) ? ['_uuid', 'name', 'external_ids'] : ['_uuid', 'external_ids']) as never[],
      ),
    );
    const results = (await this.read(selects)) as SelectResult[];
    const owned: OwnedRow[] = [];
    MODEL_TABLES.forEach((table, i) => {
      for (const wire of results[i].rows) {
        const externalIds = decodeMap(wire['external_ids']);
        const kind = externalIds[KIND_KEY];
        if (!isRowKind(kind)) continue;
        const owners: OwnedRow['owners'] = {};
        for (const [field, key] of OWNER_FIELDS)
          if (typeof externalIds[key] === 'string') owners[field] = String(externalIds[key]);
        const row: OwnedRow = { table, uuid: (wire['_uuid'] as [string, string])[1], kind, owners };
        if (typeof wire['name'] === 'string') row.name = wire['name'];
        owned.push(row);
      }
    });
    return owned;
  }

  /**
   * Removes, in one transaction, every row that names an owner the platform no longer has (or
   * lacks an owner its kind must name), and returns them. Liveness is asked after the rows were
   * read, so a row written for an owner that exists is never taken for garbage. Rows of a kind
   * this model does not know are left alone.
   */
  async collectGarbage(isLive: OwnerLiveness): Promise<OwnedRow[]> {
    const rows = await this.listOwnedRows();
    const answers = new Map<string, Promise<boolean>>();
    const live = (type: keyof OwnerLiveness, id: string): Promise<boolean> => {
      const key = `${type}:${id}`;
      let answer = answers.get(key);
      if (!answer) {
        answer = Promise.resolve(isLive[type](id));
        answers.set(key, answer);
      }
      return answer;
    };
    const garbage: OwnedRow[] = [];
    for (const row of rows) {
      const ids: Record<string, string | undefined> = {
        vpc: row.owners.vpcId,
        tenant: row.owners.tenantId,
        node: row.owners.nodeId,
        cluster: row.owners.clusterId,
        range: row.owners.rangeId,
      };
      let dead = REQUIRED_OWNERS[row.kind].some((owner) => ids[owner] === undefined);
      for (const type of ['vpc', 'node', 'cluster', 'range'] as const) {
        const id = ids[type];
        if (!dead && id !== undefined && !(await live(type, id))) dead = true;
      }
      if (dead) garbage.push(row);
    }
    if (garbage.length > 0) {
      await this.write([...removalOperations(garbage), comment(`kaas: collect ${garbage.length} rows without owner`)]);
    }
    return garbage;
  }

  private async reconcile(scope: NetworkScope): Promise<ReconcileResult> {
    for (let attempt = 1; ; attempt++) {
      const observe = observeScope(scope);
      const observation = observe.read((await this.read(observe.operations)) as SelectResult[]);
      const plan = planScope(scope, observation);
      if (plan.operations.length === 0) return { changed: false, changes: [], attempts: attempt };
      try {
        await this.write(plan.operations);
        return { changed: true, changes: plan.changes, attempts: attempt };
      } catch (err) {
        if (!isConflict(err)) throw err;
        this.counts.conflicts++;
        if (attempt >= this.maxAttempts) {
          throw new OvnNetworkError(
            OvnNetworkErrorCode.Contended,
            `${scope.description}: other writers changed its rows ${attempt} times in a row; nothing was written`,
            { cause: err },
          );
        }
        // Jittered, so that two callers that collided do not collide again in step.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * this.retryDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  private read(operations: readonly OvsdbOperation[]): Promise<unknown[]> {
    this.counts.reads++;
    return this.nb.transact(OVN_NORTHBOUND, operations, this.callOptions);
  }

  private write(operations: readonly OvsdbOperation[]): Promise<unknown[]> {
    this.counts.writes++;
    return this.nb.transact(OVN_NORTHBOUND, operations, this.callOptions);
  }
}

const OWNER_FIELDS: [keyof OwnedRow['owners'], string][] = [
  ['vpcId', OwnerKey.vpc],
  ['tenantId', OwnerKey.tenant],
  ['nodeId', OwnerKey.node],
  ['clusterId', OwnerKey.cluster],
  ['rangeId', OwnerKey.range],
];

/**
 * A transaction refused because the database is no longer what it was planned on: a `wait` that
 * did not hold, a name another writer took first, or a row it referred to that went away.
 */
function isConflict(err: unknown): boolean {
  return (
    isOvsdbError(err, OvsdbErrorCode.TransactionFailed) &&
    ['timed out', 'constraint violation', 'referential integrity violation'].includes(err.error ?? '')
  );
}
