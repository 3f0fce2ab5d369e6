import { Command, Option } from 'commander';
import type { ApiClient } from './api-client.js';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';
import type { ClusterRef } from './pool-commands.js';

export type BackupPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface Backup {
  id: string;
  clusterId: string;
  clusterName: string;
  controlPlane: string;
  version: string;
  phase: BackupPhase;
  trigger: 'manual' | 'scheduled';
  storagePoolId: string;
  sizeBytes: number;
  sha256: string | null;
  message: string | null;
  createdAt: string;
  completedAt?: string;
}

/** `settings.backup` of a cluster: a backup every `intervalMinutes`, the newest `keep` scheduled ones kept. */
export interface BackupSchedule {
  intervalMinutes: number;
  keep: number;
}

/** The API's bounds of `settings.backup`, checked here so a typo costs no request. */
export const SCHEDULE_LIMITS = {
  every: { min: 5, max: 10080 },
  keep: { min: 1, max: 100 },
};

/** How long `create --wait` waits when given no number of seconds. */
export const DEFAULT_WAIT_SECONDS = 600;
const POLL_MS = 1000;

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

/** The time since `iso` the way kubectl shows it: `42s`, `5m`, `3h`, `12d`. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
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

const clusterBackupPath = (clusterId: string, backupId?: string) =>
  `/v1/clusters/${clusterId}/backups${backupId === undefined ? '' : `/${encodeURIComponent(backupId)}`}`;
const backupPath = (backupId?: string) =>
  `/v1/backups${backupId === undefined ? '' : `/${encodeURIComponent(backupId)}`}`;

/** `--wait[=seconds]`: how long to wait for the backup to finish. */
function waitOption(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new Error(`--wait must be a whole number of seconds (at least 1), got "${value}"`);
  return Number(value);
}

/** `--every` and `--keep`: a whole number within the API's bounds. */
function boundedOption(name: keyof typeof SCHEDULE_LIMITS, what: string): (value: string) => number {
  const whole = intOption(name);
  const { min, max } = SCHEDULE_LIMITS[name];
  return (value: string) => {
    const n = whole(value);
    if (n < min || n > max) throw new Error(`--${name} must be ${min} to ${max} ${what}, got ${n}`);
    return n;
  };
}

/**
 * Asks for the backup every second until it has Succeeded or Failed, or `seconds` have passed.
 * Phase changes go to stderr, so stdout keeps only the backup printed at the end.
 */
export async function waitForBackup(client: ApiClient, path: string, first: Backup, seconds: number): Promise<Backup> {
  const deadline = Date.now() + seconds * 1000;
  let backup = first;
  let shown: string | undefined;
  for (;;) {
    if (backup.phase === 'Succeeded' || backup.phase === 'Failed') return backup;
    if (backup.phase !== shown) {
      process.stderr.write(`backup ${backup.id}: ${backup.phase}\n`);
      shown = backup.phase;
    }
    const left = deadline - Date.now();
    if (left <= 0)
      throw new Error(
        `backup ${backup.id} is still ${backup.phase} after ${seconds} s; it goes on: see kaasctl backups show ${backup.id}`,
      );
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    backup = await client.request<Backup>('GET', path);
  }
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
      ctx.print(await client.listAll<Backup>(clusterBackupPath(id)), backupColumns);
    });
  cmd
    .command('create <cluster>')
    .description('take a backup now (one at a time per cluster)')
    .addOption(
      new Option(
        '--wait [seconds]',
        'wait until it has Succeeded or Failed, this long at most; a failure exits non-zero',
      )
        .argParser(waitOption)
        .preset(String(DEFAULT_WAIT_SECONDS)),
    )
    .action(async (cluster: string, o: { wait?: number }, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      const created = await client.request<Backup>('POST', clusterBackupPath(id), {});
      if (o.wait === undefined) {
        ctx.print(created, backupColumns);
        return;
      }
      const done = await waitForBackup(client, clusterBackupPath(id, created.id), created, o.wait);
      ctx.print(done, backupColumns);
      if (done.phase === 'Failed')
        throw new Error(`backup ${done.id} of cluster ${cluster} failed: ${done.message ?? 'no reason given'}`);
    });
  cmd
    .command('show <cluster> <backupId>')
    .description('show one backup of the cluster')
    .action(async (cluster: string, backupId: string, _o, command: Command) => {
      const { ctx, client, id } = await clusterRef(command, cluster);
      ctx.print(await client.request<Backup>('GET', clusterBackupPath(id, backupId)), backupColumns);
    });
  cmd
    .command('delete <cluster> <backupId>')
    .description('delete a backup of the cluster: its volume leaves the storage pool')
    .action(async (cluster: string, backupId: string, _o, command: Command) => {
      const { client, id } = await clusterRef(command, cluster);
      await client.request('DELETE', clusterBackupPath(id, backupId));
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
        throw new Error('give --every and --keep together (or --off, or neither to show the schedule)');
      const { ctx, client, id } = await clusterRef(command, cluster);
      const path = `/v1/clusters/${id}`;
      // PATCH merges `settings` key by key: a null `backup` replaces the schedule with none.
      const settings = o.off
        ? { backup: null }
        : o.every !== undefined
          ? { backup: { intervalMinutes: o.every, keep: o.keep } }
          : undefined;
      const answer = await client.request<{ id: string; name: string; settings?: { backup?: BackupSchedule | null } }>(
        settings ? 'PATCH' : 'GET',
        path,
        settings ? { settings } : undefined,
      );
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
      ctx.print(await client.listAll<Backup>(backupPath()), backupColumns);
    });
  cmd
    .command('show <backupId>')
    .description('show a backup')
    .action(async (backupId: string, _o, command: Command) => {
      const { ctx, client } = await tenant(command);
      ctx.print(await client.request<Backup>('GET', backupPath(backupId)), backupColumns);
    });
  cmd
    .command('delete <backupId>')
    .description('delete a backup: its volume leaves the storage pool')
    .action(async (backupId: string, _o, command: Command) => {
      const { client } = await tenant(command);
      await client.request('DELETE', backupPath(backupId));
      process.stdout.write(`backup ${backupId} deleted\n`);
    });
  return [cmd];
}
