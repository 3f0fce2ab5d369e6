import { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ApiClient } from './api-client.js';
import { clusterBackupCommands } from './backup-commands.js';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';
import { formatPools, poolCommands, poolOption, type PoolRequest, type WorkerPool } from './pool-commands.js';
import { resourceCommand } from './resource-commands.js';
import { rolloutWaitOption, waitForRollout } from './rollout-wait.js';

interface Cluster {
  id: string;
  name: string;
  controlPlane: string;
  version: string;
  masters: number;
  workers: number;
  workerPools?: WorkerPool[];
  phase: string;
  endpoint: string | null;
  nodeCounts: { desired: number; ready: number };
  paused: boolean;
  usage: { cpuPercent: number; memoryMiB: number } | null;
  conditions?: Condition[];
  generation?: number;
  observedGeneration?: number;
}

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

interface NodeRow {
  id: string;
  name: string;
  role: string;
  pool: string | null;
  version: string;
  phase: string;
  address: string | null;
  hostId: string | null;
  certificateExpiresAt?: string | null;
  lastHeartbeatAt: string | null;
}

interface ControlPlane {
  name: string;
  versions: { version: string; available: boolean; upgradeFrom: string[] }[];
}

/** A version of the cluster's bundle, and whether `clusters upgrade` can take the cluster there. */
interface VersionRow {
  version: string;
  available: boolean;
  upgradeFrom: string[];
  current: boolean;
  reachable: boolean;
}

const clusterColumns: Column<Cluster>[] = [
  { header: 'ID', value: (c) => c.id },
  { header: 'NAME', value: (c) => c.name },
  { header: 'PHASE', value: (c) => `${c.phase}${c.paused ? ' (paused)' : ''}` },
  { header: 'MASTERS', value: (c) => c.masters },
  { header: 'WORKERS', value: (c) => c.workers },
  { header: 'READY', value: (c) => `${c.nodeCounts.ready}/${c.nodeCounts.desired}` },
  { header: 'POOLS', value: (c) => formatPools(c.workerPools) },
  { header: 'ENDPOINT', value: (c) => c.endpoint },
  { header: 'BUNDLE', value: (c) => `${c.controlPlane} ${c.version}` },
  { header: 'CPU %', value: (c) => c.usage?.cpuPercent },
];

/** Adds the cluster's kubeconfig to ~/.kube/config as a new context, keeping the others. */
export function mergeKubeconfig(existingText: string | undefined, addition: string): string {
  type Named = { name: string };
  const base = (existingText ? parse(existingText) : null) ?? {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [],
    users: [],
    contexts: [],
    preferences: {},
  };
  const add = parse(addition) as { clusters: Named[]; users: Named[]; contexts: Named[]; 'current-context': string };
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    const list: Named[] = Array.isArray(base[key]) ? base[key] : [];
    for (const item of add[key]) {
      const i = list.findIndex((x) => x.name === item.name);
      if (i >= 0) list[i] = item;
      else list.push(item);
    }
    base[key] = list;
  }
  if (!base['current-context']) base['current-context'] = add['current-context'];
  return stringify(base);
}

/** The cluster's bundle's versions, each marked current, reachable (an upgrade is accepted) or not. */
function versionRows(bundle: ControlPlane, current: string): VersionRow[] {
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

export function clusterCommands(): Command[] {
  const cmd = resourceCommand<Cluster>({
    command: 'clusters',
    kind: 'cluster',
    path: '/v1/clusters',
    description: 'Kubernetes clusters',
    columns: clusterColumns,
    create: {
      args: '<name>',
      options: [
        ['--control-plane <bundle>', 'control-plane bundle (etcd, k3s)'],
        ['--version <v>', 'bundle version (default: the bundle default)'],
        ['--masters <n>', '1, 3 or 5', intOption('masters')],
        ['--workers <n>', '0 to 100, in one pool named default (or give --pool)', intOption('workers')],
        [
          '--pool <name:count[:vcpus:memoryMiB:diskGiB]>',
          'a worker pool instead of --workers, sized like the masters unless given (repeatable)',
          poolOption(),
        ],
        ['--vcpus <n>', 'vCPUs per node', intOption('vcpus')],
        ['--memory-mib <n>', 'memory per node', intOption('memory-mib')],
        ['--disk-gib <n>', 'disk per node', intOption('disk-gib')],
        ['--vpc <idOrName>', 'VPC'],
        ['--storage-pool <idOrName>', 'storage pool'],
        ['--floating-ip <idOrAddress>', 'floating IP (its endpoint)'],
        [
          '--restore-from <backupId>',
          "start the control plane from a Succeeded backup's data, at the backup's version and control plane",
        ],
      ],
      body: async ([name], o, ctx) => {
        const pools = o.pool as PoolRequest[] | undefined;
        if (pools && o.workers !== undefined) throw new Error('give --workers or --pool, not both');
        const client = await ctx.tenantClient();
        const restoreFrom = o.restoreFrom === undefined ? undefined : String(o.restoreFrom);
        // A restore runs the backup's control plane, which is not necessarily the default one.
        const controlPlane =
          o.controlPlane ??
          (restoreFrom
            ? (await client.request<{ controlPlane: string }>('GET', `/v1/backups/${encodeURIComponent(restoreFrom)}`))
                .controlPlane
            : 'etcd');
        return {
          name,
          controlPlane,
          ...(o.version ? { version: o.version } : {}),
          masters: o.masters ?? 1,
          ...(pools ? { workerPools: pools } : { workers: o.workers ?? 2 }),
          nodeSpec: { vcpus: o.vcpus ?? 2, memoryMiB: o.memoryMib ?? 2048, diskGiB: o.diskGib ?? 20 },
          vpcId: await ctx.resourceId(client, '/v1/vpcs', String(o.vpc), 'VPC'),
          storagePoolId: await ctx.resourceId(client, '/v1/storage-pools', String(o.storagePool), 'storage pool'),
          floatingIpId: await ctx.resourceId(client, '/v1/floating-ips', String(o.floatingIp), 'floating IP'),
          ...(restoreFrom ? { restoreFrom: { backupId: restoreFrom } } : {}),
        };
      },
    },
  });
  const byName = async (command: Command, idOrName: string) => {
    const ctx = CliContext.from(command);
    const client = await ctx.tenantClient();
    return { ctx, client, id: await ctx.resourceId(client, '/v1/clusters', idOrName, 'cluster') };
  };
  cmd
    .command('scale <cluster>')
    .description('change the declared number of workers and/or masters')
    .option('--workers <n>', 'workers (a cluster with one pool; otherwise: pools scale)', intOption('workers'))
    .option('--masters <n>', 'masters (1, 3, 5)', intOption('masters'))
    .action(async (name: string, o: { workers?: number; masters?: number }, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      ctx.print(await client.request<Cluster>('PATCH', `/v1/clusters/${id}`, o), clusterColumns);
    });
  /** Sends a change that rolls the nodes; prints the cluster as answered, or with --wait as the roll leaves it. */
  const roll = async (
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
      missing: missing && (() => missing(client, id)),
    });
    ctx.print(cluster, clusterColumns);
    if (failure) throw new Error(failure);
  };
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
      roll(
        command,
        name,
        o,
        (client, id) => client.request<Cluster>('PATCH', `/v1/clusters/${id}`, { version }),
        async (client, id) => {
          const { items } = await client.request<{ items: NodeRow[] }>('GET', `/v1/clusters/${id}/nodes`);
          const behind = items.filter((n) => n.version !== version).length;
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
        client.request<Cluster>('GET', `/v1/clusters/${id}`),
        client.request<{ items: ControlPlane[] }>('GET', '/v1/control-planes'),
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
      roll(command, name, o, (client, id) =>
        client.request<Cluster>('POST', `/v1/clusters/${id}/rotate-certificates`, {}),
      ),
    );
  cmd.addCommand(poolCommands(byName));
  cmd.addCommand(clusterBackupCommands(byName));
  cmd
    .command('nodes <cluster>')
    .description("a cluster's nodes")
    .action(async (name: string, _o, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      const res = await client.request<{ items: NodeRow[] }>('GET', `/v1/clusters/${id}/nodes`);
      ctx.print(res.items, [
        { header: 'ID', value: (n) => n.id },
        { header: 'NAME', value: (n) => n.name },
        { header: 'ROLE', value: (n) => n.role },
        { header: 'POOL', value: (n) => n.pool },
        { header: 'VERSION', value: (n) => n.version },
        { header: 'PHASE', value: (n) => n.phase },
        { header: 'ADDRESS', value: (n) => n.address },
        { header: 'HOST', value: (n) => n.hostId },
        { header: 'CERT EXPIRES', value: (n) => n.certificateExpiresAt },
        { header: 'HEARTBEAT', value: (n) => n.lastHeartbeatAt },
      ]);
    });
  cmd
    .command('events <cluster>')
    .description("a cluster's events, newest first")
    .action(async (name: string, _o, command: Command) => {
      const { ctx, client, id } = await byName(command, name);
      const res = await client.request<{
        items: { createdAt: string; type: string; reason: string; message: string }[];
      }>('GET', `/v1/clusters/${id}/events`);
      ctx.print(res.items, [
        { header: 'TIME', value: (e) => e.createdAt },
        { header: 'TYPE', value: (e) => e.type },
        { header: 'REASON', value: (e) => e.reason },
        { header: 'MESSAGE', value: (e) => e.message },
      ]);
    });
  cmd
    .command('replace-node <cluster> <nodeId>')
    .description('replace a node: a new one first, then the old one is removed')
    .action(async (name: string, nodeId: string, _o, command: Command) => {
      const { client, id } = await byName(command, name);
      await client.request('POST', `/v1/clusters/${id}/nodes/${nodeId}/replace`, {});
      process.stdout.write(`replacement of ${nodeId} requested\n`);
    });
  for (const [verb, what] of [
    ['pause', 'stop remediation (maintenance)'],
    ['resume', 'start remediation again'],
  ]) {
    cmd
      .command(`${verb} <cluster>`)
      .description(what)
      .action(async (name: string, _o, command: Command) => {
        const { ctx, client, id } = await byName(command, name);
        ctx.print(await client.request<Cluster>('POST', `/v1/clusters/${id}/${verb}`, {}), clusterColumns);
      });
  }
  cmd
    .command('kubeconfig <cluster>')
    .description('print the kubeconfig, or --merge it into ~/.kube/config (or $KUBECONFIG) as a new context')
    .option('--merge', 'add to the kubeconfig file instead of printing')
    .option(
      '--ttl <seconds>',
      "the client certificate's lifetime (60 to 2592000; the API's default is 86400)",
      intOption('ttl'),
    )
    .action(async (name: string, o: { merge?: boolean; ttl?: number }, command: Command) => {
      const { client, id } = await byName(command, name);
      const query = o.ttl === undefined ? '' : `?ttlSeconds=${o.ttl}`;
      const yaml = await client.request<string>(
        'GET',
        `/v1/clusters/${id}/kubeconfig${query}`,
        undefined,
        'application/yaml',
      );
      if (!o.merge) {
        process.stdout.write(yaml);
        return;
      }
      const file = process.env.KUBECONFIG?.split(':')[0] || join(homedir(), '.kube', 'config');
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, mergeKubeconfig(existsSync(file) ? readFileSync(file, 'utf8') : undefined, yaml), {
        mode: 0o600,
      });
      process.stdout.write(
        `added context ${(parse(yaml) as { 'current-context': string })['current-context']} to ${file}\n`,
      );
    });
  return [cmd];
}
