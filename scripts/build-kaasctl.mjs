#!/usr/bin/env node
// Builds kaasctl into one JavaScript file with no dependency (no native addon, no database driver,
// no checkout), and an npm package around it: `npm pack` makes the tarball users install.
//   node scripts/build-kaasctl.mjs [outDir]      (default dist/kaasctl)
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist', 'kaasctl'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'bin'), { recursive: true });
const result = await build({
  entryPoints: [join(root, 'src', 'cli.ts')],
  outfile: join(out, 'bin', 'kaasctl.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: false,
  legalComments: 'eof',
  // The CommonJS dependencies (commander) require Node's modules: give the ES module a require.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as kaasctlRequire } from 'node:module';\nconst require = kaasctlRequire(import.meta.url);",
  },
  define: { __KAASCTL_VERSION__: JSON.stringify(pkg.version) },
  metafile: true,
  logLevel: 'warning',
});
chmodSync(join(out, 'bin', 'kaasctl.mjs'), 0o755);
// Only Node's own modules may stay outside the file.
const external = Object.values(result.metafile.outputs)
  .flatMap((o) => o.imports)
  .filter((i) => i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path));
if (external.length) {
  console.error(`kaasctl would need modules from outside its file: ${external.map((i) => i.path).join(', ')}`);
  process.exit(1);
}
const template = JSON.parse(readFileSync(join(root, 'packaging', 'kaasctl', 'package.json'), 'utf8'));
writeFileSync(join(out, 'package.json'), `${JSON.stringify({ ...template, version: pkg.version }, null, 2)}\n`);
copyFileSync(join(root, 'packaging', 'kaasctl', 'README.md'), join(out, 'README.md'));
console.log(out);
