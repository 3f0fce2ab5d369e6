import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, freePort } from './processes.js';

const run = promisify(execFile);

/**
 * A PostgreSQL and a Redis of a test's own, on their own ports and data directory (started by
 * scripts/services.sh like the shared pair), so the test may kill and restart them without
 * disturbing other test files.
 */
export interface OwnServices {
  databaseUrl: string;
  redisUrl: string;
  dataDir: string;
  /** Stops PostgreSQL the hard way (`pg_ctl stop -m immediate`: backends die mid-transaction), then starts it. */
  restartPostgres(downMs?: number): Promise<void>;
  /**
   * Kills Redis with SIGKILL, then starts it. Its append-only file keeps what it acknowledged,
   * unless `loseData`: then it comes back empty, as after a failover to a replica that lagged.
   */
  restartRedis(downMs?: number, loseData?: boolean): Promise<void>;
  /** Its OVN Northbound database (`KAAS_OVN_NB`). */
  ovnNorthbound: string;
  /** Kills the Northbound ovsdb-server with SIGKILL (what it committed is on disk), then starts it. */
  restartNorthbound(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function pgBin(): Promise<string> {
  return run('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']).then((r) => r.stdout.trim());
}

export async function startOwnServices(): Promise<OwnServices> {
  const dataDir = await mkdtemp(join(tmpdir(), 'kaas-own-services-'));
  // PostgreSQL runs as the postgres user when started by root: it must reach its directory.
  await chmod(dataDir, 0o755);
  const pgPort = await freePort();
  const redisPort = await freePort();
  const env = {
    ...process.env,
    KAAS_DATA_DIR: dataDir,
    KAAS_PG_PORT: String(pgPort),
    KAAS_REDIS_PORT: String(redisPort),
    KAAS_PG_FSYNC: 'off',
  };
  const services = (cmd: string) => run(join(ROOT, 'scripts', 'services.sh'), [cmd], { env, cwd: ROOT });
  // Its answer names the URLs, with the passwords made for this data folder.
  const urls = (await services('up')).stdout;
  const printed = (name: string) => {
    const value = new RegExp(`^${name}=(.+)$`, 'm').exec(urls)?.[1];
    if (!value) throw new Error(`scripts/services.sh up printed no ${name}`);
    return value;
  };
  const bin = await pgBin();
  const asPostgres = (args: string[]) =>
    process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', ...args]) : run(args[0], args.slice(1));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** SIGKILL, then wait until the process is gone (its port and socket are free then). */
  const killByPidFile = async (pidFile: string) => {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await sleep(20);
    }
  };
  return {
    databaseUrl: printed('DATABASE_URL'),
    redisUrl: printed('REDIS_URL'),
    dataDir,
    async restartPostgres(downMs = 0) {
      await asPostgres([`${bin}/pg_ctl`, '-D', join(dataDir, 'postgres'), '-m', 'immediate', '-w', 'stop']);
      await sleep(downMs);
      await services('up');
    },
    async restartRedis(downMs = 0, loseData = false) {
      await killByPidFile(join(dataDir, 'run', 'redis.pid'));
      if (loseData) await rm(join(dataDir, 'redis'), { recursive: true, force: true });
      await sleep(downMs);
      await services('up');
    },
    ovnNorthbound: `unix:${join(dataDir, 'ovn', 'ovnnb_db.sock')}`,
    async restartNorthbound(downMs = 0) {
      await killByPidFile(join(dataDir, 'ovn', 'ovnnb_db.pid'));
      await sleep(downMs);
      await services('up');
    },
    async stop() {
      await services('down').catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
