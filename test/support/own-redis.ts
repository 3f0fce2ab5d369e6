import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './processes.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A Redis of a test's own (own port and data directory under a temporary folder), for tests that
 * kill it. Its append-only file keeps every write it acknowledged across a SIGKILL, as the shared
 * one started by scripts/services.sh does.
 */
export interface OwnRedis {
  url: string;
  port: number;
  /** Kills it with SIGKILL, waits `downMs`, starts it again; `loseData` empties it first. */
  restart(options?: { downMs?: number; loseData?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'kaas-own-redis-'));
  const port = await freePort();
  const dataDir = join(dir, 'data');
  const pidFile = join(dir, 'redis.pid');
  const cli = (...args: string[]) => run('redis-cli', ['-p', String(port), ...args]);
  const up = async () => {
    await run('mkdir', ['-p', dataDir]);
    await run('redis-server', [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dataDir,
      '--daemonize',
      'yes',
      '--pidfile',
      pidFile,
      '--logfile',
      join(dir, 'redis.log'),
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
    ]);
    for (let i = 0; i < 200; i++) {
      if (
        await cli('ping').then(
          (r) => r.stdout.trim() === 'PONG',
          () => false,
        )
      )
        return;
      await sleep(25);
    }
    throw new Error(`Redis did not start on port ${port}; see ${join(dir, 'redis.log')}`);
  };
  const pid = async () => Number((await readFile(pidFile, 'utf8')).trim());
  const kill = async () => {
    const p = await pid();
    process.kill(p, 'SIGKILL');
    // The port is free once the process is gone.
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(p, 0);
      } catch {
        return;
      }
      await sleep(10);
    }
  };
  await up();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart({ downMs = 0, loseData = false } = {}) {
      await kill();
      if (loseData) await rm(dataDir, { recursive: true, force: true });
      await sleep(downMs);
      await up();
    },
    async stop() {
      await kill().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
