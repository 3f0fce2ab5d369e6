import { type ChildProcess, spawn } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A simulated host in a process of its own, where a real host's state lives: a libvirtd serving
 * libvirt's test driver. The platform reaches it as `test+unix:///default?socket=…`, so the host's
 * domains and volumes are kept by the daemon, not by the worker that holds the host, and outlive
 * the worker. The daemon runs unprivileged (libvirt's session mode, with its sockets and state in
 * a temporary folder): as root it would be the machine's system daemon, with its paths.
 *
 * libvirt's test driver frees `test:///default`'s state when its last connection closes, so the
 * daemon's starter keeps one open for as long as the daemon runs: a worker that restarts finds
 * the host as it left it, as it would find a real host.
 */
export interface SimulatedHostDaemon {
  uri: string;
  pid: number;
  stop(): Promise<void>;
}

/** Whether something accepts connections on this Unix socket. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ path }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The unprivileged account the daemon runs as when this process is root. */
async function nobody(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('no "nobody" account to run libvirtd as');
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startSimulatedHostDaemon(): Promise<SimulatedHostDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'kaas-sim-host-'));
  const account = process.getuid?.() === 0 ? await nobody() : undefined;
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: join(dir, 'home'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
  };
  for (const d of [env.HOME, env.XDG_RUNTIME_DIR, env.XDG_CONFIG_HOME, env.XDG_CACHE_HOME]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    if (account) await chown(d, account.uid, account.gid);
  }
  if (account) await chown(dir, account.uid, account.gid);
  const socket = join(env.XDG_RUNTIME_DIR, 'libvirt', 'libvirt-sock');
  const daemon: ChildProcess = spawn('libvirtd', [], {
    env,
    stdio: ['ignore', 'ignore', 'ignore'],
    ...(account ?? {}),
  });
  let exited = false;
  daemon.once('exit', () => (exited = true));
  const stop = async () => {
    if (!exited) {
      daemon.kill('SIGTERM');
      for (let i = 0; i < 200 && !exited; i++) await sleep(25);
      if (!exited) daemon.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  const uri = `test+unix:///default?socket=${socket}`;
  for (let i = 0; i < 400; i++) {
    if (exited) break;
    if (await accepts(socket)) {
      try {
        const keeper = await LibvirtConnection.open(uri);
        return {
          uri,
          pid: daemon.pid!,
          async stop() {
            await keeper.close().catch(() => undefined);
            await stop();
          },
        };
      } catch (err) {
        await stop();
        throw err;
      }
    }
    await sleep(25);
  }
  await stop();
  throw new Error(`libvirtd serving a simulated host did not start (socket ${socket})`);
}
