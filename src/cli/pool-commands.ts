import { Command, InvalidArgumentError, Option } from 'commander';
import type { EventEmitter } from 'node:events';
import type { Schemas } from '../api/client.js';
import { type ApiClient, dataOf } from './api-client.js';
import { CliContext, intOption } from './context.js';
import { waitOption } from './events.js';
import { WAIT_SECONDS } from './resource-commands.js';
import { getCluster, nodesMissing, waitForRollout } from './rollout-wait.js';
import type { Column } from './output.js';
import { UsageError } from './errors.js';

type NodeSize = Schemas['NodeSpecDto'];
type Taint = Schemas['TaintDto'];
type PoolAutoscale = Schemas['PoolAutoscaleDto'];
type WorkerPool = Schemas['WorkerPoolResponse'];

/** A pool as `clusters create --pool` declares it (the API's `workerPools[]`). */
export type PoolRequest = Pick<Schemas['WorkerPoolRequest'], 'name' | 'count' | 'nodeSpec'>;

export const TAINT_EFFECTS: readonly Taint['effect'][] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

const WHOLE = /^\d+$/;

/** A whole-number argument (not an option), or a message naming it. */
export function wholeNumber(name: string, value: string): number {
  if (!WHOLE.test(value)) throw new InvalidArgumentError(`<${name}> must be a whole number, got "${value}"`);
  return Number(value);
}

/** `--label key=value`, repeatable; the value may be empty, a key may not be given twice. */
export function labelOption(flag = 'label') {
  return (value: string, previous?: Record<string, string>): Record<string, string> => {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--${flag} must be key=value, got "${value}"`);
    const key = value.slice(0, eq);
    if (previous && key in previous) throw new InvalidArgumentError(`--${flag} gives the key "${key}" twice`);
    return { ...previous, [key]: value.slice(eq + 1) };
  };
}

/** `--taint key[=value]:Effect`, repeatable. */
export function taintOption(flag = 'taint') {
  return (value: string, previous?: Taint[]): Taint[] => {
    const colon = value.lastIndexOf(':');
    const usage = `--${flag} must be key[=value]:Effect (Effect one of ${TAINT_EFFECTS.join(', ')}), got "${value}"`;
    if (colon <= 0) throw new InvalidArgumentError(usage);
    const effect = TAINT_EFFECTS.find((e) => e === value.slice(colon + 1));
    if (!effect) throw new InvalidArgumentError(usage);
    const keyValue = value.slice(0, colon);
    const eq = keyValue.indexOf('=');
    if (eq === 0) throw new InvalidArgumentError(usage);
    const taint: Taint =
      eq < 0 || eq === keyValue.length - 1
        ? { key: eq < 0 ? keyValue : keyValue.slice(0, eq), effect }
        : { key: keyValue.slice(0, eq), value: keyValue.slice(eq + 1), effect };
    if (previous?.some((t) => t.key === taint.key && t.effect === effect))
      throw new InvalidArgumentError(`--${flag} gives ${taint.key}:${effect} twice`);
    return [...(previous ?? []), taint];
  };
}

/** `--autoscale min:max:targetCpuPercent[:cooldownSeconds]`. */
export function autoscaleOption(flag = 'autoscale') {
  return (value: string, previous?: PoolAutoscale | false): PoolAutoscale => {
    if (previous === false) throw new InvalidArgumentError(`--${flag} and --no-${flag} cannot be used together`);
    if (previous) throw new InvalidArgumentError(`--${flag} is given twice`);
    const parts = value.split(':');
    if (parts.length < 3 || parts.length > 4 || !parts.every((p) => WHOLE.test(p)))
      throw new InvalidArgumentError(
        `--${flag} must be min:max:targetCpuPercent[:cooldownSeconds] in whole numbers (e.g. 1:5:70), got "${value}"`,
      );
    const [minCount, maxCount, targetCpuPercent, cooldownSeconds] = parts.map(Number);
    if (minCount > maxCount)
      throw new InvalidArgumentError(`--${flag}: min (${minCount}) must not exceed max (${maxCount})`);
    if (targetCpuPercent < 1 || targetCpuPercent > 100)
      throw new InvalidArgumentError(`--${flag}: targetCpuPercent must be 1 to 100, got ${targetCpuPercent}`);
    return { minCount, maxCount, targetCpuPercent, ...(parts.length === 4 ? { cooldownSeconds } : {}) };
  };
}

/** `--pool name:count[:vcpus:memoryMiB:diskGiB]`, repeatable (`clusters create`). */
export function poolOption(flag = 'pool') {
  return (value: string, previous?: PoolRequest[]): PoolRequest[] => {
    const parts = value.split(':');
    if ((parts.length !== 2 && parts.length !== 5) || parts[0] === '' || !parts.slice(1).every((p) => WHOLE.test(p)))
      throw new InvalidArgumentError(
        `--${flag} must be name:count or name:count:vcpus:memoryMiB:diskGiB in whole numbers, got "${value}"`,
      );
    const [name, ...numbers] = parts;
    const [count, vcpus, memoryMiB, diskGiB] = numbers.map(Number);
    if (previous?.some((p) => p.name === name))
      throw new InvalidArgumentError(`--${flag} names the pool "${name}" twice`);
    const pool: PoolRequest =
      parts.length === 5 ? { name, count, nodeSpec: { vcpus, memoryMiB, diskGiB } } : { name, count };
    return [...(previous ?? []), pool];
  };
}

export function formatLabels(labels: Record<string, string> | undefined): string | null {
  const entries = Object.entries(labels ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : null;
}

export function formatTaints(taints: Taint[] | undefined): string | null {
  return taints?.length ? taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(',') : null;
}

export function formatAutoscale(a: PoolAutoscale | undefined): string | null {
  return a ? `${a.minCount}-${a.maxCount} at ${a.targetCpuPercent}% CPU` : null;
}

/** A cluster's pools on one line: `general:2,gpu:1`. */
export function formatPools(pools: WorkerPool[] | undefined): string | null {
  return pools?.length ? pools.map((p) => `${p.name}:${p.count}`).join(',') : null;
}

export const poolColumns: Column<WorkerPool>[] = [
  { header: 'NAME', value: (p) => p.name },
  { header: 'COUNT', value: (p) => p.count },
  { header: 'READY', value: (p) => `${p.nodeCounts.ready}/${p.nodeCounts.desired}` },
  { header: 'VCPUS', value: (p) => p.nodeSpec.vcpus },
  { header: 'MEMORY', value: (p) => `${p.nodeSpec.memoryMiB}Mi` },
  { header: 'DISK', value: (p) => `${p.nodeSpec.diskGiB}Gi` },
  { header: 'LABELS', value: (p) => formatLabels(p.labels) },
  { header: 'TAINTS', value: (p) => formatTaints(p.taints) },
  { header: 'AUTOSCALE', value: (p) => formatAutoscale(p.autoscale) },
];

/** Resolves `<cluster>` (id or name) for the commands below. */
export type ClusterRef = (
  command: Command,
  idOrName: string,
) => Promise<{ ctx: CliContext; client: ApiClient; id: string }>;

const getPool = (client: ApiClient, id: string, name: string): Promise<WorkerPool> =>
  dataOf(client.api.GET('/v1/clusters/{id}/pools/{name}', { params: { path: { id, name } } }));

/** PATCH of one pool: what the body gives changes, the rest stays. */
const patchPool = (client: ApiClient, id: string, name: string, body: Schemas['PatchWorkerPoolRequest']) =>
  dataOf(client.api.PATCH('/v1/clusters/{id}/pools/{name}', { params: { path: { id, name } }, body }));

interface SizeOptions {
  vcpus?: number;
  memoryMib?: number;
  diskGib?: number;
}

/** The node size of a new pool: none (the cluster's), or the given parts completed from the cluster's. */
async function sizeOf(o: SizeOptions, client: ApiClient, clusterId: string): Promise<NodeSize | undefined> {
  if (o.vcpus === undefined && o.memoryMib === undefined && o.diskGib === undefined) return undefined;
  const base =
    o.vcpus === undefined || o.memoryMib === undefined || o.diskGib === undefined
      ? (await getCluster(client, clusterId)).nodeSpec
      : undefined;
  return {
    vcpus: o.vcpus ?? base!.vcpus,
    memoryMiB: o.memoryMib ?? base!.memoryMiB,
    diskGiB: o.diskGib ?? base!.diskGiB,
  };
}

const poolWaitOption = () =>
  waitOption("wait until the cluster is Running with every declared node ready (the pool's included)", WAIT_SECONDS);

/** With `--wait`: looks at the cluster until the change of its pools has been carried out. */
async function waitForPools(client: ApiClient, clusterId: string, name: string, seconds: number): Promise<void> {
  const cluster = await getCluster(client, clusterId);
  const { failure } = await waitForRollout(client, name, cluster, {
    seconds,
    generation: cluster.generation,
    missing: nodesMissing,
  });
  if (failure) throw new Error(failure);
}

/** `kaasctl clusters pools list|show|add|scale|set|remove`: a cluster's worker pools. */
export function poolCommands(clusterRef: ClusterRef): Command {
  const cmd = new Command('pools').description(
    "a cluster's worker pools: named groups of workers, each with its count, node size, labels, taints and autoscaling",
  );
  cmd
    .command('list <cluster>')
    .description("list a cluster's worker pools")
    .action(async (cluster: string, _o, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      const { items } = await dataOf(client.api.GET('/v1/clusters/{id}/pools', { params: { path: { id } } }));
      ctx.print(items, poolColumns);
    });
  cmd
    .command('show <cluster> <pool>')
    .description('show one worker pool')
    .action(async (cluster: string, pool: string, _o, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await getPool(client, id, pool), poolColumns);
    });
  cmd
    .command('add <cluster> <pool>')
    .description("add a worker pool (its node size is the cluster's unless given; missing parts come from it)")
    .requiredOption('--count <n>', 'workers, 0 to 100', intOption('count'))
    .option('--vcpus <n>', 'vCPUs per node', intOption('vcpus'))
    .option('--memory-mib <n>', 'memory per node in MiB', intOption('memory-mib'))
    .option('--disk-gib <n>', 'disk per node in GiB', intOption('disk-gib'))
    .option('--label <key=value>', 'a node label (repeatable)', labelOption())
    .option(
      '--taint <key[=value]:Effect>',
      `a node taint, Effect one of ${TAINT_EFFECTS.join(', ')} (repeatable)`,
      taintOption(),
    )
    .option(
      '--autoscale <min:max:cpu>',
      'autoscale between min and max workers at this average CPU % (optionally :cooldownSeconds)',
      autoscaleOption(),
    )
    .addOption(poolWaitOption())
    .action(
      async (
        cluster: string,
        pool: string,
        o: SizeOptions & {
          wait?: number;
          count: number;
          label?: Record<string, string>;
          taint?: Taint[];
          autoscale?: PoolAutoscale;
        },
        command: Command,
      ) => {
        const { ctx, client, id } = await clusterRef(command, cluster);
        const nodeSpec = await sizeOf(o, client, id);
        const body: Schemas['WorkerPoolRequest'] = {
          name: pool,
          count: o.count,
          ...(nodeSpec ? { nodeSpec } : {}),
          ...(o.label ? { labels: o.label } : {}),
          ...(o.taint ? { taints: o.taint } : {}),
          ...(o.autoscale ? { autoscale: o.autoscale } : {}),
        };
        const added = await dataOf(client.api.POST('/v1/clusters/{id}/pools', { params: { path: { id } }, body }));
        if (o.wait !== undefined) {
          await waitForPools(client, id, cluster, o.wait);
          ctx.print(await getPool(client, id, pool), poolColumns);
        } else ctx.print(added, poolColumns);
      },
    );
  cmd
    .command('scale <cluster> <pool> <count>')
    .description("change a pool's number of workers (0 to 100)")
    .addOption(poolWaitOption())
    .action(async (cluster: string, pool: string, count: string, o: { wait?: number }, command: Command) => {
      const n = wholeNumber('count', count);
      const { ctx, client, id } = await clusterRef(command, cluster);
      const scaled = await patchPool(client, id, pool, { count: n });
      if (o.wait !== undefined) {
        await waitForPools(client, id, cluster, o.wait);
        ctx.print(await getPool(client, id, pool), poolColumns);
      } else ctx.print(scaled, poolColumns);
    });
  const set = cmd
    .command('set <cluster> <pool>')
    .description("replace a pool's labels or taints, or change its autoscaling; what is not given stays")
    .addOption(
      new Option('--label <key=value>', 'the labels, replacing all of them (repeatable)')
        .argParser(labelOption())
        .conflicts('clearLabels'),
    )
    .option('--clear-labels', 'remove every label')
    .addOption(
      new Option('--taint <key[=value]:Effect>', 'the taints, replacing all of them (repeatable)')
        .argParser(taintOption())
        .conflicts('clearTaints'),
    )
    .option('--clear-taints', 'remove every taint')
    .option(
      '--autoscale <min:max:cpu>',
      'autoscale between min and max workers at this average CPU %',
      autoscaleOption(),
    )
    .option('--no-autoscale', 'stop autoscaling (the count stays as it is)');
  // `--autoscale X --no-autoscale` is refused like the other order (which its parser refuses).
  // Before commander's own listener, which would overwrite the value; Command is an EventEmitter.
  (set as unknown as EventEmitter).prependListener('option:no-autoscale', () => {
    if (typeof set.getOptionValue('autoscale') === 'object')
      throw new UsageError('--autoscale and --no-autoscale cannot be used together');
  });
  set.action(
    async (
      cluster: string,
      pool: string,
      o: {
        label?: Record<string, string>;
        clearLabels?: boolean;
        taint?: Taint[];
        clearTaints?: boolean;
        autoscale?: PoolAutoscale | false;
      },
      command: Command,
    ) => {
      const body: Schemas['PatchWorkerPoolRequest'] = {
        ...(o.label ? { labels: o.label } : o.clearLabels ? { labels: {} } : {}),
        ...(o.taint ? { taints: o.taint } : o.clearTaints ? { taints: [] } : {}),
        ...(o.autoscale === false ? { autoscale: null } : o.autoscale ? { autoscale: o.autoscale } : {}),
      };
      if (Object.keys(body).length === 0)
        throw new UsageError(
          'nothing to change: give --label, --clear-labels, --taint, --clear-taints, --autoscale or --no-autoscale (the count: pools scale)',
        );
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await patchPool(client, id, pool, body), poolColumns);
    },
  );
  cmd
    .command('remove <cluster> <pool>')
    .description('remove a worker pool: its nodes leave as in a scale-down')
    .addOption(poolWaitOption())
    .action(async (cluster: string, pool: string, o: { wait?: number }, command: Command) => {
      const { client, id } = await clusterRef(command, cluster);
      await dataOf(client.api.DELETE('/v1/clusters/{id}/pools/{name}', { params: { path: { id, name: pool } } }));
      if (o.wait === undefined) {
        process.stdout.write(`worker pool ${pool} of cluster ${cluster} removed: its nodes leave\n`);
        return;
      }
      await waitForPools(client, id, cluster, o.wait);
      process.stdout.write(`worker pool ${pool} of cluster ${cluster} removed, and its nodes gone\n`);
    });
  return cmd;
}
