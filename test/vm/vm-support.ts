import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** Where scripts/test-vm.sh put things; the suite refuses to run outside it. */
export function vmEnv(): { imageDir: string; dataDir: string } {
  const imageDir = process.env.KAAS_GUEST_IMAGE_DIR;
  const dataDir = process.env.KAAS_VM_DATA_DIR;
  if (!imageDir || !dataDir || !existsSync(join(imageDir, 'vmlinuz'))) {
    throw new Error('run the real-VM suite through scripts/test-vm.sh (it builds the image and the namespace)');
  }
  return { imageDir, dataDir };
}

export async function consoleText(path: string): Promise<string> {
  return existsSync(path) ? readFile(path, 'utf8') : '';
}

/** Waits for a line matching the pattern on a guest's serial console log. */
export async function waitForConsole(path: string, pattern: RegExp, timeoutMs = 180000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = (await consoleText(path)).match(pattern);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `console ${path} never showed ${pattern}; last lines:\n${(await consoleText(path)).split('\n').slice(-20).join('\n')}`,
  );
}

export async function bridges(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show', 'type', 'bridge']);
  return stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim())
    .filter((x): x is string => Boolean(x));
}

export async function dnsmasqFor(network: string): Promise<number> {
  const { stdout } = await run('ps', ['-eo', 'args']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((l) => l.includes('dnsmasq') && l.includes(`${network}.conf`)).length;
}
