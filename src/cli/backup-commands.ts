import { Command, InvalidArgumentError, Option } from 'commander';
import type { Schemas } from '../api/client.js';
import { type ApiClient, dataOf, listAll } from './api-client.js';
import { waitFor, waitOption } from './events.js';
import { CliContext, intOption } from './context.js';
import { age, type Column } from './output.js';
import { UsageError } from './errors.js';
import type { ClusterRef } from './pool-commands.js';
import { getCluster } from './rollout-wait.js';

type Backup = Schemas['BackupResponse'];

/** `settings.backup` of a cluster: a backup every `intervalMinutes`, the newest `keep` scheduled ones kept. */
type BackupSchedule = Schemas['BackupSettingsDto'];

/** The API's bounds of `settings.backup`, checked here so a typo costs no request. */
export const SCHEDULE_LIMITS = {
  every: { min: 5, max: 10080 },
  keep: { min: 1, max: 100 },
};

/** How long `create --wait` waits when given no number of seconds. */
export const DEFAULT_WAIT_SECONDS = 600;

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes for people, in powers of 1024: `512 B`, `12.3 MiB`. */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** A backup's size is known once it succeeds; before that (and when it failed) there is none. */
function sizeOf(b: Backup): string | null {
  return b.phase === 'Succeeded' || b.sizeBytes > 0 ? humanBytes(b.sizeBytes) : null;
}

// Backups have no name: the id comes first, so `-o name` prints ids.
export const backupColumns: Column<Backup>[] = [
  { header: 'ID', value: (b) => b.id },
  { header: 'CLUSTER', value: (b) => b.clusterName },
  { header: 'PHASE', value: (b) => b.phase },
  { header: 'TRIGGER', value: (b) => b.trigger },
  { header: 'SIZE', value: sizeOf },
  { header: 'VERSION', value: (b) => b.version },
  { header: 'AGE', value: (b) => age(b.createdAt) },
];

interface ScheduleRow {
  clusterId: string;
  cluster: string;
  schedule: BackupSchedule | null;
}

const scheduleColumns: Column<ScheduleRow>[] = [
  { header: 'CLUSTER', value: (r) => r.cluster },
  { header: 'EVERY', value: (r) => (r.schedule ? `${r.schedule.intervalMinutes}m` : 'off') },
  { header: 'KEEP', value: (r) => r.schedule?.keep },
];

const getClusterBackup = (client: ApiClient, id: string, backupId: string): Promise<Backup> =>
  dataOf(client.api.GET('/v1/clusters/{id}/backups/{backupId}', { params: { path: { id, backupId } } }));

/** `--every` and `--keep`: a whole number within the API's bounds. */
function boundedOption(name: keyof typeof SCHEDULE_LIMITS, what: string): (value: string) => number {
  const whole = intOption(name);
  const { min, max } = SCHEDULE_LIMITS[name];
  return (value: string) => {
    const n = whole(value);
    if (n < min || n > max) throw new InvalidArgumentError(`--${name} must be ${min} to ${max} ${what}, got ${n}`);
    return n;
  };
}

/**
 * Looks at the backup after each event of its cluster (every second without the event stream)
 * until it has Succeeded or Failed, or `seconds` have passed. Phase changes go to stderr, so
 * stdout keeps only the backup printed at the end.
 */
export async function waitForBackup(client: ApiClient, first: Backup, seconds: number): Promise<Backup> {
  let next: Backup | undefined = first;
  const { value } = await waitFor<Backup>(client, {
    clusterId: first.clusterId,
    seconds,
    label: `backup ${first.id}`,
    timeout: (b) =>
      `backup ${b.id} is still ${b.phase} after ${seconds} s; it goes on: see kaasctl backups show ${b.id}`,
    look: async () => {
      const backup = next ?? (await getClusterBackup(client, first.clusterId, first.id));
      next = undefined;
      return backup.phase === 'Succeeded' || backup.phase === 'Failed'
        ? { done: true, value: backup }
        : { done: false, value: backup, state: backup.phase };
    },
  });
  return value;
}

/** `kaasctl clusters backups list|create|show|delete|schedule`: snapshots of a cluster's control plane. */
export function clusterBackupCommands(clusterRef: ClusterRef): Command {
  const cmd = new Command('backups').description(
    "a cluster's backups: snapshots of its control plane's state, kept in its storage pool, by hand or on a schedule",
  );
  cmd
    .command('list <cluster>')
    .description("list a cluster's backups, newest first")
    .action(async (cluster: string, _o, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      const backups = await listAll((query) =>
        client.api.GET('/v1/clusters/{id}/backups', { params: { path: { id }, query } }),
      );
      ctx.print(backups, backupColumns);
    });
  cmd
    .command('create <cluster>')
    .description('take a backup now (one at a time per cluster)')
    .addOption(waitOption('wait until it has Succeeded or Failed; a failure exits non-zero', DEFAULT_WAIT_SECONDS))
    .action(async (cluster: string, o: { wait?: number }, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      const created = await dataOf(
        client.api.POST('/v1/clusters/{id}/backups', { params: { path: { id } }, body: {} }),
      );
      if (o.wait === undefined) {
        ctx.print(created, backupColumns);
        return;
      }
      const done = await waitForBackup(client, created, o.wait);
      ctx.print(done, backupColumns);
      if (done.phase === 'Failed')
        throw new Error(`backup ${done.id} of cluster ${cluster} failed: ${done.message ?? 'no reason given'}`);
    });
  cmd
    .command('show <cluster> <backupId>')
    .description('show one backup of the cluster')
    .action(async (cluster: string, backupId: string, _o, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await getClusterBackup(client, id, backupId), backupColumns);
    });
  cmd
    .command('delete <cluster> <backupId>')
    .description('delete a backup of the cluster: its volume leaves the storage pool')
    .action(async (cluster: string, backupId: string, _o, command: Command) => {
      const { client, id } = await clusterRef(command, cluster);
      await dataOf(client.api.DELETE('/v1/clusters/{id}/backups/{backupId}', { params: { path: { id, backupId } } }));
      process.stdout.write(`backup ${backupId} of cluster ${cluster} deleted\n`);
    });
  cmd
    .command('schedule <cluster>')
    .description(
      'back up on a schedule, keeping the newest scheduled backups (--every and --keep), or stop (--off); with neither, show the schedule',
    )
    .addOption(
      new Option('--every <minutes>', 'minutes between backups (5 to 10080)')
        .argParser(boundedOption('every', 'minutes'))
        .conflicts('off'),
    )
    .addOption(
      new Option('--keep <n>', 'scheduled backups kept, the newest (1 to 100)')
        .argParser(boundedOption('keep', 'backups'))
        .conflicts('off'),
    )
    .option('--off', 'take no more scheduled backups (those taken stay until deleted)')
    .action(async (cluster: string, o: { every?: number; keep?: number; off?: boolean }, command: Command) => {
      if ((o.every === undefined) !== (o.keep === undefined))
        throw new UsageError('give --every and --keep together (or --off, or neither to show the schedule)');
      const { ctx, client, id } = await clusterRef(command, cluster);
      // `backup: null` ends the schedule (PATCH merges `settings` key by key).
      const settings = o.off
        ? { backup: null }
        : o.every !== undefined && o.keep !== undefined
          ? { backup: { intervalMinutes: o.every, keep: o.keep } }
          : undefined;
      const answer = settings
        ? await dataOf(client.api.PATCH('/v1/clusters/{id}', { params: { path: { id } }, body: { settings } }))
        : await getCluster(client, id);
      ctx.print(
        { clusterId: answer.id, cluster: answer.name, schedule: answer.settings?.backup ?? null },
        scheduleColumns,
      );
    });
  return cmd;
}

/** `kaasctl backups list|show|delete`: every backup of the tenant, deleted clusters' included. */
export function backupCommands(): Command[] {
  const cmd = new Command('backups').description(
    "every backup of the tenant, those of deleted clusters included (a cluster's own: clusters backups)",
  );
  const tenant = async (command: Command) => {
    const ctx = CliContext.from(command);
    return { ctx, client: await ctx.tenantClient() };
  };
  cmd
    .command('list')
    .description('list backups, newest first')
    .action(async (_o, command: Command) => {
      const { ctx, client } = await tenant(command);
      ctx.print(await listAll((query) => client.api.GET('/v1/backups', { params: { query } })), backupColumns);
    });
  cmd
    .command('show <backupId>')
    .description('show a backup')
    .action(async (backupId: string, _o, command: Command) => {
      const { ctx, client } = await tenant(command);
      ctx.print(
        await dataOf(client.api.GET('/v1/backups/{id}', { params: { path: { id: backupId } } })),
        backupColumns,
      );
    });
  cmd
    .command('delete <backupId>')
    .description('delete a backup: its volume leaves the storage pool')
    .action(async (backupId: string, _o, command: Command) => {
      const { client } = await tenant(command);
      await dataOf(client.api.DELETE('/v1/backups/{id}', { params: { path: { id: backupId } } }));
      process.stdout.write(`backup ${backupId} deleted\n`);
    });
  return [cmd];
}
