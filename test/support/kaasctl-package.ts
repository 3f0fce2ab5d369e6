import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './processes.js';

const run = promisify(execFile);

export interface InstalledKaasctl {
  /** The installed command (a link in the prefix's bin folder, as `npm install -g` makes it). */
  bin: string;
  /** The tarball `npm pack` made. */
  tarball: string;
  /** A folder outside the checkout to run it in. */
  cwd: string;
  /** PATH with the installed command and this Node only: no checkout, no node_modules. */
  path: string;
  run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts it and gives its output so far; for --watch, which runs until stopped. */
  start(args: string[], env: Record<string, string>): { output: () => string; stop: () => void };
}

/**
 * kaasctl as a user gets it: built into one file (scripts/build-kaasctl.mjs), packed with
 * `npm pack`, installed with `npm install -g --offline` into a prefix of its own, and run from a
 * folder outside the checkout with an environment that names nothing of the checkout.
 */
export async function installPackedKaasctl(): Promise<InstalledKaasctl> {
  const work = mkdtempSync(join(tmpdir(), 'kaasctl-pack-'));
  const build = join(work, 'build');
  await run(process.execPath, [join(ROOT, 'scripts', 'build-kaasctl.mjs'), build], { cwd: ROOT });
  await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: build });
  const tarball = join(
    work,
    readdirSync(work).find((f) => f.endsWith('.tgz'))!,
  );
  const prefix = join(work, 'prefix');
  const cwd = join(work, 'elsewhere');
  mkdirSync(cwd);
  await run('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], { cwd });
  const bin = join(prefix, 'bin', 'kaasctl');
  const path = `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`;
  const clean = (env: Record<string, string>) => ({ PATH: path, HOME: cwd, ...env });
  return {
    bin,
    tarball,
    cwd,
    path,
    async run(args, env) {
      try {
        const { stdout, stderr } = await run(bin, args, { cwd, env: clean(env) });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    },
    start(args, env) {
      const child = spawn(bin, args, { cwd, env: clean(env) });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      return { output: () => out, stop: () => child.kill('SIGINT') };
    },
  };
}
