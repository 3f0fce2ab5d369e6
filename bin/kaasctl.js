#!/usr/bin/env node
// kaasctl: the operator's command line. The code lives in src/cli (compiled to dist/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli.js');
if (!existsSync(entry)) {
  process.stderr.write('kaasctl: not built yet; run `make build` (or `npm run build`) first\n');
  process.exit(1);
}
await import(entry);
