import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** deploy/node-flags, found from test/support/ (jest) or dist-bench/test/support/ (benchmarks). */
const FILE = [join(import.meta.dirname, '..', '..'), join(import.meta.dirname, '..', '..', '..')]
  .map((root) => join(root, 'deploy', 'node-flags'))
  .find((path) => existsSync(path));
if (!FILE) throw new Error(`deploy/node-flags not found above ${import.meta.dirname}`);

/** The flags of deploy/node-flags: the API and the workers are started with them everywhere. */
export const PLATFORM_NODE_FLAGS: string[] = readFileSync(FILE, 'utf8')
  .split('\n')
  .filter((line) => !/^\s*(#|$)/.test(line))
  .flatMap((line) => line.trim().split(/\s+/));
