import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import type { Schemas } from '../api/client.js';
import { type ApiClient, ApiError, dataOf, listAll } from './api-client.js';
import { clusterBackupCommands } from './backup-commands.js';
import { CliContext, intOption, surroundings } from './context.js';
import { credentialCommands } from './credentials.js';
import { ageColumn, type Column, type Format, idColumn } from './output.js';
import { formatPools, poolCommands, poolOption, type PoolRequest } from './pool-commands.js';
import { resourceCommand, WAIT_SECONDS } from './resource-commands.js';
import { UsageError } from './errors.js';
import { EventStream, type Progress, waitFor, waitOption } from './events.js';
import { watchRows } from './watch.js';
import { getCluster, nodesMissing, rolloutWaitOption, waitForClusterGone, waitForRollout } from './rollout-wait.js';

type Cluster = Schemas['ClusterResponse'];
type NodeRow = Schemas['NodeResponse'];
type ClusterEvent = Pick<Schemas['EventResponse'], 'createdAt' | 'type' | 'reason' | 'message'>;
type Masters = Schemas['CreateClusterRequest']['masters'];

/** A version of the cluster's bundle, and whether `clusters upgrade` can take the cluster there. */
interface VersionRow {
  version: string;
  available: boolean;
  upgradeFrom: string[];
  current: boolean;
  reachable: boolean;
}

const MASTERS: readonly Masters[] = [1, 3, 5];

/** `--masters`: 1, 3 or 5, the sizes of a control plane the API takes. */
function mastersOption(value: string): Masters {
  const n = intOption('masters')(value);
  const masters = MASTERS.find((m) => m === n);
  if (masters === undefined) throw new InvalidArgumentError(`--masters must be 1, 3 or 5, got ${n}`);
  return masters;
}

/** The options of `clusters create`. */
interface CreateOptions {
  controlPlane?: string;
  version?: string;
  masters?: Masters;
  workers?: number;
  pool?: PoolRequest[];
  vcpus?: number;
  memoryMib?: number;
  diskGib?: number;
  vpc: string;
  storagePool: string;
  floatingIp: string;
  restoreFrom?: string;
}

const clusterColumns: Column<Cluster>[] = [
  { header: 'NAME', value: (c) => c.name },
  { header: 'PHASE', value: (c) => `${c.phase}${c.paused ? ' (paused)' : ''}` },
  { header: 'MASTERS', value: (c) => c.masters },
  { header: 'WORKERS', value: (c) => c.workers },
  { header: 'READY', value: (c) => `${c.nodeCounts.ready}/${c.nodeCounts.desired}` },
  { header: 'ENDPOINT', value: (c) => c.endpoint },
  { header: 'BUNDLE', value: (c) => `${c.controlPlane} ${c.version}` },
  ageColumn(),
  { header: 'POOLS', value: (c) => formatPools(c.workerPools), wide: true },
  { header: 'CPU %', value: (c) => c.usage?.cpuPercent, wide: true },
  {
    header: 'GENERATION',
    value: (c) => (c.generation === undefined ? null : `${c.observedGeneration ?? 0}/${c.generation}`),
    wide: true,
  },
  idColumn(),
];

const nodeColumns: Column<NodeRow>[] = [
  { header: 'NAME', value: (n) => n.name },
  { header: 'ROLE', value: (n) => n.role },
  { header: 'POOL', value: (n) => n.pool },
  { header: 'VERSION', value: (n) => n.version },
  { header: 'PHASE', value: (n) => n.phase },
  { header: 'ADDRESS', value: (n) => n.address },
  ageColumn(),
  { header: 'HOST', value: (n) => n.hostId, wide: true },
  { header: 'CERT EXPIRES', value: (n) => n.certificateExpiresAt, wide: true },
  { header: 'HEARTBEAT', value: (n) => n.lastHeartbeatAt, wide: true },
  idColumn(),
];

const eventColumns: Column<ClusterEvent>[] = [
  { header: 'TIME', value: (e) => e.createdAt },
  { header: 'TYPE', value: (e) => e.type },
  { header: 'REASON', value: (e) => e.reason },
  { header: 'MESSAGE', value: (e) => e.message },
];

/**
 * `events --watch`: the events so far (oldest first, as they will continue), then each new event
 * of the stream as it comes, until `signal` ends it.
 */
async function followEvents(
  client: ApiClient,
  clusterId: string,
  past: ClusterEvent[],
  format: Format,
  signal: AbortSignal | undefined,
): Promise<void> {
  const table = format === 'table' || format === 'wide';
  const oldestFirst = [...past].reverse();
  let widths = [20, 7, 20];
  const line = (values: string[]) => {
    widths = widths.map((w, i) => Math.max(w, values[i].length));
    return values.map((v, i) => (i < widths.length ? v.padEnd(widths[i]) : v)).join('   ');
  };
  const print = (e: ClusterEvent) =>
    process.stdout.write(
      table
        ? `${line(eventColumns.map((c) => String(c.value(e))))}\n`
        : format === 'yaml'
          ? `---\n${stringify(e)}`
          : format === 'name'
            ? `${e.reason}\n`
            : `${JSON.stringify(e)}\n`,
    );
  if (table) process.stdout.write(`${line(eventColumns.map((c) => c.header))}\n`);
  for (const e of oldestFirst) print(e);
  const stream = await EventStream.open(client, clusterId);
  const ended = new Promise<null>((resolve) => signal?.addEventListener('abort', () => resolve(null)));
  try {
    while (!signal?.aborted) {
      const e = await Promise.race([stream.next(60_000), ended]);
      if (e) print({ createdAt: e.createdAt, type: e.type, reason: e.reason, message: e.message });
    }
  } finally {
    stream.close();
  }
}

/** The cluster's bundle's versions, each marked current, reachable (an upgrade is accepted) or not. */
function versionRows(bundle: Schemas['ControlPlaneResponse'], current: string): VersionRow[] {
  return bundle.versions.map((v) => ({
    version: v.version,
    available: v.available,
    upgradeFrom: v.upgradeFrom,
    current: v.version === current,
    // As the API decides (bundles.service.ts checkUpgrade): listed in upgradeFrom, and installed.
    reachable: v.version !== current && v.available && v.upgradeFrom.includes(current),
  }));
}

const versionColumns: Column<VersionRow>[] = [
  { header: 'VERSION', value: (v) => v.version },
  { header: 'REACHABLE', value: (v) => (v.current ? 'current' : v.reachable ? 'yes' : 'no') },
  { header: 'AVAILABLE', value: (v) => (v.available ? 'yes' : 'no (not installed)') },
  { header: 'UPGRADE FROM', value: (v) => (v.upgradeFrom.length ? v.upgradeFrom.join(',') : null) },
];

const nodesOf = async (client: ApiClient, id: string): Promise<NodeRow[]> =>
  (await dataOf(client.api.GET('/v1/clusters/{id}/nodes', { params: { path: { id } } }))).items;

export function clusterCommands(): Command[] {
  const cmd = resourceCommand<Cluster, CreateOptions>({
    command: 'clusters',
    kind: 'cluster',
    path: '/v1/clusters',
    description: 'Kubernetes clusters',
    columns: clusterColumns,
    list: (client) => listAll((query) => client.api.GET('/v1/clusters', { params: { query } })),
    get: getCluster,
    create: {
      args: '<name>',
      options: [
        ['--control-plane <bundle>', 'control-plane bundle (etcd, k3s)'],
        ['--version <v>', 'bundle version (default: the bundle default)'],
        ['--masters <n>', '1, 3 or 5', mastersOption],
        ['--workers <n>', '0 to 100, in one pool named default (or give --pool)', intOption('workers')],
        [
          '--pool <name:count[:vcpus:memoryMiB:diskGiB]>',
          'a worker pool instead of --workers, sized like the masters unless given (repeatable)',
          poolOption(),
        ],
        ['--vcpus <n>', 'vCPUs per node', intOption('vcpus')],
        ['--memory-mib <n>', 'memory per node', intOption('memory-mib')],
        ['--disk-gib <n>', 'disk per node', intOption('disk-gib')],
        new Option('--vpc <idOrName>', 'VPC').makeOptionMandatory(),
        new Option('--storage-pool <idOrName>', 'storage pool').makeOptionMandatory(),
        new Option('--floating-ip <idOrAddress>', 'floating IP (its endpoint)').makeOptionMandatory(),
        [
          '--restore-from <backupId>',
          "start the control plane from a Succeeded backup's data, at the backup's version and control plane",
        ],
      ],
      send: async (client, [name], o, ctx) => {
        const pools = o.pool;
        if (pools && o.workers !== undefined) throw new UsageError('give --workers or --pool, not both');
        const restoreFrom = o.restoreFrom;
        // A restore runs the backup's control plane, which is not necessarily the default one.
        const controlPlane =
          o.controlPlane ??
          (restoreFrom
            ? (await dataOf(client.api.GET('/v1/backups/{id}', { params: { path: { id: restoreFrom } } }))).controlPlane
            : 'etcd');
        const body: Schemas['CreateClusterRequest'] = {
          name,
          controlPlane,
          ...(o.version ? { version: o.version } : {}),
          masters: o.masters ?? 1,
          ...(pools ? { workerPools: pools } : { workers: o.workers ?? 2 }),
          nodeSpec: { vcpus: o.vcpus ?? 2, memoryMiB: o.memoryMib ?? 2048, diskGiB: o.diskGib ?? 20 },
          vpcId: await ctx.resourceId(client, '/v1/vpcs', o.vpc, 'VPC'),
          storagePoolId: await ctx.resourceId(client, '/v1/storage-pools', o.storagePool, 'storage pool'),
          floatingIpId: await ctx.resourceId(client, '/v1/floating-ips', o.floatingIp, 'floating IP'),
          ...(restoreFrom ? { restoreFrom: { backupId: restoreFrom } } : {}),
        };
        return dataOf(client.api.POST('/v1/clusters', { body }));
      },
      wait: {
        description: 'wait until the cluster is Running with every node ready; Failed exits 1',
        until: async (client, created, seconds) => {
          const { cluster, failure } = await waitForRollout(client, created.name, created, {
            seconds,
            generation: created.generation,
            missing: nodesMissing,
          });
          if (failure) throw new Error(failure);
          return cluster;
        },
      },
    },
    deleteWait: waitForClusterGone,
    watch: true,
  });
  const byName = async (command: Command, idOrName: string) => {
    const ctx = CliContext.from(command);
    const client = await ctx.tenantClient();
    return { ctx, client, id: await ctx.resourceId(client, '/v1/clusters', idOrName, 'cluster') };
  };
  /**
   * Sends a change of the declared state; prints the cluster as answered, or with --wait as the
   * change leaves it: taken up, Running, up to date, every declared node ready, and nothing else
   * `missing`.
   */
  const change = async (
    command: Command,
    name: string,
    o: { wait?: number },
    send: (client: ApiClient, id: string) => Promise<Cluster>,
    missing?: (client: ApiClient, id: string) => Promise<string | null>,
  ) => {
    const { ctx, client, id } = await byName(command, name);
    const answer = await send(client, id);
    if (o.wait === undefined) return ctx.print(answer, clusterColumns);
    const { cluster, failure } = await waitForRollout(client, name, answer, {
      seconds: o.wait,
      generation: answer.generation,
      missing: async (c) => nodesMissing(c) ?? (missing ? await missing(client, id) : null),
    });
    ctx.print(cluster, clusterColumns);
    if (failure) throw new Error(failure);
  };
  cmd
    .command('scale <cluster>')
    .description('change the declared number of workers and/or masters')
    .option('--workers <n>', 'workers (a cluster with one pool; otherwise: pools scale)', intOption('workers'))
    .option('--masters <n>', 'masters (1, 3, 5)', mastersOption)
    .addOption(waitOption('wait until the cluster is Running with every declared node ready', WAIT_SECONDS))
    .action(async (name: string, o: { workers?: number; masters?: Masters; wait?: number }, command: Command) => {
      const { workers, masters } = o;
      if (workers === undefined && masters === undefined) throw new UsageError('give --workers and/or --masters');
      await change(command, name, o, (client, id) =>
        dataOf(client.api.PATCH('/v1/clusters/{id}', { params: { path: { id } }, body: { workers, masters } })),
      );
    });
  cmd
    .command('upgrade <cluster> <version>')
    .summary('roll the cluster to another version of its bundle')
    .description(
      'roll the cluster to another version of its bundle (clusters versions: those it can reach); ' +
        'with --wait, until every node runs that version and the cluster is Running, stopping with the ' +
        "UpToDate condition's reason and message if it is False other than while rolling (Upgrading, UpgradeWaiting)",
    )
    .addOption(rolloutWaitOption())
    .action((name: string, version: string, o: { wait?: number }, command: Command) =>
      change(
        command,
        name,
        o,
        (client, id) => dataOf(client.api.PATCH('/v1/clusters/{id}', { params: { path: { id } }, body: { version } })),
        async (client, id) => {
          const behind = (await nodesOf(client, id)).filter((n) => n.version !== version).length;
          return behind ? `${behind} node(s) not yet at ${version}` : null;
        },
      ),
    );
  cmd
    .command('versions <cluster>')
    .description("the versions of the cluster's bundle, and which ones an upgrade can reach from its version")
    .action(async (name: string, _o, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      const [cluster, planes] = await Promise.all([
        getCluster(client, id),
        dataOf(client.api.GET('/v1/control-planes')),
      ]);
      const bundle = planes.items.find((b) => b.name === cluster.controlPlane);
      if (!bundle) throw new Error(`the platform offers no bundle ${cluster.controlPlane} (the bundle of ${name})`);
      ctx.print(versionRows(bundle, cluster.version), versionColumns);
    });
  cmd
    .command('rotate-certificates <cluster>')
    .summary("replace every node by one with new certificates from the cluster's CA")
    .description(
      "replace every node, one at a time, by one with new certificates from the cluster's CA (the CA stays: " +
        'kubeconfigs keep working); with --wait, until the cluster has taken the request up (observedGeneration), ' +
        'is Running and UpToDate is True, which holds once every node has the new certificates (node ids are not ' +
        'compared: a node made while the request was taken may have them already)',
    )
    .addOption(rolloutWaitOption())
    .action((name: string, o: { wait?: number }, command: Command) =>
      change(command, name, o, (client, id) =>
        dataOf(client.api.POST('/v1/clusters/{id}/rotate-certificates', { params: { path: { id } }, body: {} })),
      ),
    );
  cmd.addCommand(poolCommands(byName));
  cmd.addCommand(clusterBackupCommands(byName));
  cmd
    .command('nodes <cluster>')
    .description("a cluster's nodes")
    .option('-w, --watch', 'after the list, print each node again when it changes, and a line for each one gone')
    .action(async (name: string, o: { watch?: boolean }, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      const nodes = () => nodesOf(client, id);
      if (!o.watch) return ctx.print(await nodes(), nodeColumns);
      await watchRows(client, {
        clusterId: id,
        fetch: async () => {
          try {
            return await nodes();
          } catch (err) {
            if (err instanceof ApiError && err.status === 404) return null;
            throw err;
          }
        },
        key: (n) => n.id,
        columns: nodeColumns,
        format: ctx.options.output,
        signal: surroundings(command).signal,
      });
    });
  cmd
    .command('events <cluster>')
    .description("a cluster's events, newest first; with --watch, then each new one as it happens")
    .option('-w, --watch', 'after the list, print each new event as it happens (from the event stream)')
    .action(async (name: string, o: { watch?: boolean }, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      const res = await dataOf(client.api.GET('/v1/clusters/{id}/events', { params: { path: { id } } }));
      if (!o.watch) return ctx.print(res.items, eventColumns);
      await followEvents(client, id, res.items, ctx.options.output, surroundings(command).signal);
    });
  cmd
    .command('replace-node <cluster> <nodeId>')
    .description('replace a node: a new one first, then the old one is removed')
    .addOption(waitOption('wait until the old node is gone and every declared node is ready', WAIT_SECONDS))
    .action(async (name: string, nodeId: string, o: { wait?: number }, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      await dataOf(
        client.api.POST('/v1/clusters/{id}/nodes/{nodeId}/replace', { params: { path: { id, nodeId } }, body: {} }),
      );
      if (o.wait === undefined) {
        process.stdout.write(`replacement of ${nodeId} requested\n`);
        return;
      }
      const { value } = await waitFor<Cluster | null>(client, {
        clusterId: id,
        seconds: o.wait,
        label: `cluster ${name}`,
        timeout: () => `node ${nodeId} of cluster ${name} is not replaced after ${o.wait} s; it goes on`,
        look: async (): Promise<Progress<Cluster | null>> => {
          const old = (await nodesOf(client, id)).find((n) => n.id === nodeId);
          if (old) return { done: false, value: null, state: `node ${old.name} still there (${old.phase})` };
          const cluster = await getCluster(client, id);
          const missing = nodesMissing(cluster);
          if (cluster.phase === 'Running' && !missing) return { done: true, value: cluster };
          return { done: false, value: cluster, state: [cluster.phase, missing].filter(Boolean).join('; ') };
        },
      });
      process.stderr.write(`cluster ${name}: node ${nodeId} replaced\n`);
      if (value) ctx.print(value, clusterColumns);
    });
  for (const [verb, what] of [
    ['pause', 'stop remediation (maintenance)'],
    ['resume', 'start remediation again'],
  ] as const) {
    cmd
      .command(`${verb} <cluster>`)
      .description(what)
      .action(async (name: string, _o, command: Command) => {
        const { ctx, client, id } = await byName(command, name);
        const path = `/v1/clusters/{id}/${verb}` as const;
        ctx.print(await dataOf(client.api.POST(path, { params: { path: { id } }, body: {} })), clusterColumns);
      });
  }
  for (const sub of credentialCommands(byName)) cmd.addCommand(sub);
  return [cmd];
}
