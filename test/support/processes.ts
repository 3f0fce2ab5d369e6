import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PLATFORM_NODE_FLAGS } from './node-flags.js';

export const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/**
 * A free port outside the kernel's range for outgoing connections: one that a test gives back
 * for a while (a server stopped and started again) and means to listen on again. A port from
 * freePort() can be taken meanwhile by any connection on the machine as its local port.
 */
export async function freeStablePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: keep the usual start of the range.
  }
  const from = Math.min(20000, low - 1000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between ${from} and ${low}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts one of the built entry points (dist/src/*.js) as a real process, as deploy/node-flags says. */
export function startProcess(entry: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [...PLATFORM_NODE_FLAGS, join(ROOT, 'dist', 'src', entry)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export async function kaasctl(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin', 'kaasctl.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export function randomEnv(databaseUrl: string, port: number): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:56379',
    KAAS_PORT: String(port),
    KAAS_ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
    KAAS_SECRET_KEY: randomBytes(32).toString('hex'),
    KAAS_QUEUE_PREFIX: `kaas-e2e-${randomBytes(4).toString('hex')}`,
    KAAS_LOG_LEVEL: 'info',
    // Workers of parallel tests would all reach for the default port; a test of the port sets one.
    KAAS_WORKER_PORT: 'off',
    ...(process.env.KAAS_OVN_NB
      ? { KAAS_OVN_NB: process.env.KAAS_OVN_NB, KAAS_OVN_SB: process.env.KAAS_OVN_SB ?? 'none' }
      : {}),
  };
}
