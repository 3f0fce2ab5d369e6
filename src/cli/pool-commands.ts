import { Command, Option } from 'commander';
import type { EventEmitter } from 'node:events';
import type { ApiClient } from './api-client.js';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';

export interface NodeSize {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface PoolAutoscale {
  minCount: number;
  maxCount: number;
  targetCpuPercent: number;
  cooldownSeconds?: number;
}

export interface WorkerPool {
  name: string;
  count: number;
  nodeSpec: NodeSize;
  labels: Record<string, string>;
  taints: Taint[];
  autoscale?: PoolAutoscale;
  nodeCounts: { desired: number; ready: number };
}

/** A pool as `clusters create --pool` declares it (the API's `workerPools[]`). */
export interface PoolRequest {
  name: string;
  count: number;
  nodeSpec?: NodeSize;
}

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

const WHOLE = /^\d+$/;

/** A whole-number argument (not an option), or a message naming it. */
export function wholeNumber(name: string, value: string): number {
  if (!WHOLE.test(value)) throw new Error(`<${name}> must be a whole number, got "${value}"`);
  return Number(value);
}

/** `--label key=value`, repeatable; the value may be empty, a key may not be given twice. */
export function labelOption(flag = 'label') {
  return (value: string, previous?: Record<string, string>): Record<string, string> => {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new Error(`--${flag} must be key=value, got "${value}"`);
    const key = value.slice(0, eq);
    if (previous && key in previous) throw new Error(`--${flag} gives the key "${key}" twice`);
    return { ...previous, [key]: value.slice(eq + 1) };
  };
}

/** `--taint key[=value]:Effect`, repeatable. */
export function taintOption(flag = 'taint') {
  return (value: string, previous?: Taint[]): Taint[] => {
    const colon = value.lastIndexOf(':');
    const usage = `--${flag} must be key[=value]:Effect (Effect one of ${TAINT_EFFECTS.join(', ')}), got "${value}"`;
    if (colon <= 0) throw new Error(usage);
    const effect = value.slice(colon + 1);
    if (!TAINT_EFFECTS.includes(effect)) throw new Error(usage);
    const keyValue = value.slice(0, colon);
    const eq = keyValue.indexOf('=');
    if (eq === 0) throw new Error(usage);
    const taint: Taint =
      eq < 0 || eq === keyValue.length - 1
        ? { key: eq < 0 ? keyValue : keyValue.slice(0, eq), effect }
        : { key: keyValue.slice(0, eq), value: keyValue.slice(eq + 1), effect };
    if (previous?.some((t) => t.key === taint.key && t.effect === effect))
      throw new Error(`--${flag} gives ${taint.key}:${effect} twice`);
    return [...(previous ?? []), taint];
  };
}

/** `--autoscale min:max:targetCpuPercent[:cooldownSeconds]`. */
export function autoscaleOption(flag = 'autoscale') {
  return (value: string, previous?: PoolAutoscale | false): PoolAutoscale => {
    if (previous === false) throw new Error(`--${flag} and --no-${flag} cannot be used together`);
    if (previous) throw new Error(`--${flag} is given twice`);
    const parts = value.split(':');
    if (parts.length < 3 || parts.length > 4 || !parts.every((p) => WHOLE.test(p)))
      throw new Error(
        `--${flag} must be min:max:targetCpuPercent[:cooldownSeconds] in whole numbers (e.g. 1:5:70), got "${value}"`,
      );
    const [minCount, maxCount, targetCpuPercent, cooldownSeconds] = parts.map(Number);
    if (minCount > maxCount) throw new Error(`--${flag}: min (${minCount}) must not exceed max (${maxCount})`);
    if (targetCpuPercent < 1 || targetCpuPercent > 100)
      throw new Error(`--${flag}: targetCpuPercent must be 1 to 100, got ${targetCpuPercent}`);
    return { minCount, maxCount, targetCpuPercent, ...(parts.length === 4 ? { cooldownSeconds } : {}) };
  };
}

/** `--pool name:count[:vcpus:memoryMiB:diskGiB]`, repeatable (`clusters create`). */
export function poolOption(flag = 'pool') {
  return (value: string, previous?: PoolRequest[]): PoolRequest[] => {
    const parts = value.split(':');
    if ((parts.length !== 2 && parts.length !== 5) || parts[0] === '' || !parts.slice(1).every((p) => WHOLE.test(p)))
      throw new Error(
        `--${flag} must be name:count or name:count:vcpus:memoryMiB:diskGiB in whole numbers, got "${value}"`,
      );
    const [name, ...numbers] = parts;
    const [count, vcpus, memoryMiB, diskGiB] = numbers.map(Number);
    if (previous?.some((p) => p.name === name)) throw new Error(`--${flag} names the pool "${name}" twice`);
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

const poolPath = (clusterId: string, pool?: string) =>
  `/v1/clusters/${clusterId}/pools${pool === undefined ? '' : `/${encodeURIComponent(pool)}`}`;

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
      ? (await client.request<{ nodeSpec: NodeSize }>('GET', `/v1/clusters/${clusterId}`)).nodeSpec
      : undefined;
  return {
    vcpus: o.vcpus ?? base!.vcpus,
    memoryMiB: o.memoryMib ?? base!.memoryMiB,
    diskGiB: o.diskGib ?? base!.diskGiB,
  };
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
      ctx.print((await client.request<{ items: WorkerPool[] }>('GET', poolPath(id))).items, poolColumns);
    });
  cmd
    .command('show <cluster> <pool>')
    .description('show one worker pool')
    .action(async (cluster: string, pool: string, _o, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await client.request<WorkerPool>('GET', poolPath(id, pool)), poolColumns);
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
    .action(
      async (
        cluster: string,
        pool: string,
        o: SizeOptions & {
          count: number;
          label?: Record<string, string>;
          taint?: Taint[];
          autoscale?: PoolAutoscale;
        },
        command: Command,
      ) => {
        const { ctx, client, id } = await clusterRef(command, cluster);
        const nodeSpec = await sizeOf(o, client, id);
        const body = {
          name: pool,
          count: o.count,
          ...(nodeSpec ? { nodeSpec } : {}),
          ...(o.label ? { labels: o.label } : {}),
          ...(o.taint ? { taints: o.taint } : {}),
          ...(o.autoscale ? { autoscale: o.autoscale } : {}),
        };
        ctx.print(await client.request<WorkerPool>('POST', poolPath(id), body), poolColumns);
      },
    );
  cmd
    .command('scale <cluster> <pool> <count>')
    .description("change a pool's number of workers (0 to 100)")
    .action(async (cluster: string, pool: string, count: string, _o, command: Command) => {
      const n = wholeNumber('count', count);
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await client.request<WorkerPool>('PATCH', poolPath(id, pool), { count: n }), poolColumns);
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
      throw new Error('--autoscale and --no-autoscale cannot be used together');
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
      const body = {
        ...(o.label ? { labels: o.label } : o.clearLabels ? { labels: {} } : {}),
        ...(o.taint ? { taints: o.taint } : o.clearTaints ? { taints: [] } : {}),
        ...(o.autoscale === false ? { autoscale: null } : o.autoscale ? { autoscale: o.autoscale } : {}),
      };
      if (Object.keys(body).length === 0)
        throw new Error(
          'nothing to change: give --label, --clear-labels, --taint, --clear-taints, --autoscale or --no-autoscale (the count: pools scale)',
        );
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await client.request<WorkerPool>('PATCH', poolPath(id, pool), body), poolColumns);
    },
  );
  cmd
    .command('remove <cluster> <pool>')
    .description('remove a worker pool: its nodes leave as in a scale-down')
    .action(async (cluster: string, pool: string, _o, command: Command) => {
      const { client, id } = await clusterRef(command, cluster);
      await client.request('DELETE', poolPath(id, pool));
      process.stdout.write(`worker pool ${pool} of cluster ${cluster} removed: its nodes leave\n`);
    });
  return cmd;
}
