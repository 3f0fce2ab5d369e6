#!/usr/bin/env node
// Reads the Dockerfile and .dockerignore without Docker (no image is built) and checks what can be
// checked from the text:
//   - stages: more than one, names unique, every image pinned to a version tag, COPY --from naming
//     an earlier stage, the Node image at the version scripts/node-env.sh pins;
//   - the final stage: runs as a user other than root, has an exec-form CMD, installs no build tools;
//   - apt-get: --no-install-recommends, and the package lists removed in the same RUN;
//   - COPY sources: present in the build context and not excluded by .dockerignore; no ADD;
//   - secrets: no ENV or ARG with a secret-looking name and a value, nothing copied from .data or
//     .env, and .dockerignore keeping .git, .data, .env and node_modules out of the context;
//   - commands `node dist/src/X.js` (CMD, and the ones the comments list) compile from src/X.ts, and
//     the API and the workers (main.js, worker.js) run with the flags of deploy/node-flags.
//
//   node scripts/check-dockerfile.mjs [--root DIR]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_TOOLS = ['g++', 'gcc', 'make', 'python3', 'pkg-config', 'libvirt-dev', 'build-essential', 'node-gyp'];
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|SECRET_?KEY)/i;
const MUST_IGNORE = ['.git', '.data', '.env', 'node_modules'];

/** Instructions of a Dockerfile: line continuations joined, comments and parser directives dropped. */
export function parseDockerfile(text) {
  const out = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!pending && /^\s*(#|$)/.test(line)) return;
    if (pending && /^\s*#/.test(line)) return; // comments inside a continued instruction
    if (!pending) startLine = i + 1;
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full);
    out.push({ line: startLine, cmd: m[1].toUpperCase(), args: m[2] });
  });
  if (pending) out.push({ line: startLine, cmd: 'ERROR', args: 'the file ends inside a continued line' });
  return out;
}

/** .dockerignore patterns (Go filepath.Match plus `**`, later `!` lines re-include). */
export function dockerignore(text) {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '').replace(/^\.\//, '');
      const re = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/');
      return { negate, re: new RegExp(`^${re}(/.*)?$`) };
    });
  return (path) => {
    const p = path.replace(/^\.\//, '').replace(/\/+$/, '');
    let ignored = false;
    for (const r of rules) if (r.re.test(p)) ignored = !r.negate;
    return ignored;
  };
}

const words = (args) => args.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
const unquote = (w) => w.replace(/^(["'])(.*)\1$/, '$2');

/** Flags (--from=x, --chown=y) and the rest of a COPY/ADD line. */
function copyArgs(args) {
  if (args.trim().startsWith('[')) {
    const list = JSON.parse(args);
    return { flags: {}, paths: list };
  }
  const flags = {};
  const paths = [];
  for (const w of words(args)) {
    const f = /^--([a-z-]+)(?:=(.*))?$/.exec(w);
    if (f) flags[f[1]] = f[2] ?? true;
    else paths.push(unquote(w));
  }
  return { flags, paths };
}

function substitute(value, vars) {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => vars[a ?? b] ?? '');
}

/**
 * Problems found in the Dockerfile text, each a string naming its line. `root` is the build
 * context; `nodeVersion` the pinned Node.js version.
 */
export function checkDockerfile({ dockerfile, ignoreText, root, nodeVersion, nodeFlags }) {
  const problems = [];
  const at = (ins, msg) => problems.push(`Dockerfile:${ins.line}: ${msg}`);
  const ignored = dockerignore(ignoreText ?? '');
  const instructions = parseDockerfile(dockerfile);

  for (const name of MUST_IGNORE) {
    if (!ignored(name)) problems.push(`.dockerignore: ${name} is not excluded from the build context`);
  }

  const globalArgs = {};
  const stages = [];
  let stage;
  for (const ins of instructions) {
    if (ins.cmd === 'ERROR') at(ins, ins.args);
    if (ins.cmd === 'ARG') {
      const [name, ...rest] = ins.args.split('=');
      const value = rest.join('=');
      if (!stage) globalArgs[name.trim()] = unquote(value.trim());
      if (SECRET_NAME.test(name) && value.trim())
        at(ins, `ARG ${name.trim()} has a value: secrets never go in an image`);
      continue;
    }
    if (ins.cmd === 'FROM') {
      const [image, as, name] = words(ins.args).filter((w) => !w.startsWith('--'));
      const resolved = substitute(image, globalArgs);
      stage = { line: ins.line, image: resolved, name: as?.toUpperCase() === 'AS' ? name : undefined, ins: [] };
      if (stage.name && stages.some((s) => s.name === stage.name)) at(ins, `stage name ${stage.name} used twice`);
      const isStage = stages.some((s) => s.name === resolved);
      if (!isStage) {
        const tag = /^[^@]+:([^/:@]+)$/.exec(resolved)?.[1];
        if (!resolved.includes('@sha256:') && (!tag || tag === 'latest'))
          at(ins, `image ${resolved || image} is not pinned to a version tag`);
        const node = /^(?:docker\.io\/)?(?:library\/)?node:(\d+\.\d+\.\d+)/.exec(resolved);
        if (node && nodeVersion && node[1] !== nodeVersion)
          at(ins, `Node ${node[1]}, but scripts/node-env.sh pins ${nodeVersion}`);
        if (/^(?:docker\.io\/)?(?:library\/)?node:/.test(resolved) && !node)
          at(ins, `the Node image ${resolved} names no exact version`);
      }
      stages.push(stage);
      continue;
    }
    if (!stage) {
      at(ins, `${ins.cmd} before the first FROM`);
      continue;
    }
    stage.ins.push(ins);
  }
  if (stages.length < 2) problems.push('Dockerfile: one stage only: build tools would stay in the image');
  const final = stages.at(-1);

  stages.forEach((s, index) => {
    const earlier = stages.slice(0, index).map((e) => e.name);
    for (const ins of s.ins) {
      if (ins.cmd === 'ADD') at(ins, 'ADD: use COPY (ADD fetches URLs and unpacks archives)');
      if (ins.cmd === 'ENV') {
        for (const w of words(ins.args)) {
          const name = w.split('=')[0];
          if (SECRET_NAME.test(name) && w.includes('=') && w.split('=').slice(1).join('='))
            at(ins, `ENV ${name} has a value: secrets never go in an image`);
        }
      }
      if (ins.cmd === 'COPY' || ins.cmd === 'ADD') {
        const { flags, paths } = copyArgs(ins.args);
        const sources = paths.slice(0, -1);
        if (paths.length < 2) at(ins, `${ins.cmd} needs a source and a destination`);
        if (typeof flags.from === 'string') {
          if (!earlier.includes(flags.from)) at(ins, `COPY --from=${flags.from}: no earlier stage of that name`);
          continue;
        }
        for (const src of sources) {
          const rel = src.replace(/^\.\//, '').replace(/\/+$/, '') || '.';
          if (/(^|\/)(\.data|\.env|secrets?)(\/|$)|\.(key|pem)$/.test(rel))
            at(ins, `copies ${src}: secrets never go in an image`);
          if (rel === '.' && s === final) at(ins, 'the final stage copies the whole build context');
          if (/[*?[]/.test(rel)) continue;
          if (!existsSync(join(root, rel))) at(ins, `COPY source ${src} does not exist`);
          else if (rel !== '.' && ignored(rel)) at(ins, `COPY source ${src} is excluded by .dockerignore`);
        }
      }
      if (ins.cmd === 'RUN' && /apt-get\s+(-\S+\s+)*install/.test(ins.args)) {
        if (!ins.args.includes('--no-install-recommends')) at(ins, 'apt-get install without --no-install-recommends');
        if (!/rm -rf \/var\/lib\/apt\/lists/.test(ins.args))
          at(ins, 'apt-get install without removing /var/lib/apt/lists in the same RUN');
        if (s === final) {
          const installed = ins.args.split(/&&|;/).find((part) => /apt-get\s.*install/.test(part)) ?? '';
          for (const tool of BUILD_TOOLS) {
            if (words(installed).includes(tool)) at(ins, `the final stage installs the build tool ${tool}`);
          }
        }
      }
    }
  });

  if (final) {
    const users = final.ins.filter((i) => i.cmd === 'USER');
    const user = users.at(-1)?.args.trim().split(':')[0];
    if (!user) problems.push(`Dockerfile:${final.line}: the final stage sets no USER, so it runs as root`);
    else if (user === 'root' || user === '0') at(users.at(-1), `the final stage runs as ${user}`);
    const cmd = final.ins.filter((i) => i.cmd === 'CMD').at(-1);
    if (!cmd) problems.push(`Dockerfile:${final.line}: the final stage has no CMD`);
    else if (!cmd.args.trim().startsWith('[')) at(cmd, 'CMD in shell form: signals would go to a shell, not to node');
  }

  // Commands the image runs: CMD and the `node dist/src/X.js` the header lists.
  const lines = dockerfile.split('\n');
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/dist\/src\/([\w/-]+)\.js/g)) {
      if (!existsSync(join(root, 'src', `${m[1]}.ts`)))
        problems.push(
          `Dockerfile:${i + 1}: runs dist/src/${m[1]}.js, but there is no src/${m[1]}.ts to compile it from`,
        );
      if (nodeFlags && (m[1] === 'main' || m[1] === 'worker')) {
        // The options between the last `node` before the script and the script.
        const before = line.slice(0, m.index);
        const flags = [...before.slice(before.lastIndexOf('node')).matchAll(/--[\w-]+(?:=[^\s",\]]+)?/g)].map(
          (f) => f[0],
        );
        if (flags.join(' ') !== nodeFlags.join(' '))
          problems.push(
            `Dockerfile:${i + 1}: runs dist/src/${m[1]}.js with node flags '${flags.join(' ')}', but deploy/node-flags says '${nodeFlags.join(' ')}'`,
          );
      }
    }
  });
  return { problems, stages: stages.map((s) => s.name ?? s.image) };
}

/** The flags of deploy/node-flags, when the build context has the file. */
function platformNodeFlags(root) {
  const file = join(root, 'deploy', 'node-flags');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*(#|$)/.test(line))
    .flatMap((line) => line.trim().split(/\s+/));
}

function pinnedNodeVersion(root) {
  const env = join(root, 'scripts', 'node-env.sh');
  if (!existsSync(env)) return undefined;
  return /^KAAS_NODE_VERSION=(\S+)/m.exec(readFileSync(env, 'utf8'))?.[1];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const rootArg = args.indexOf('--root');
  const root = resolve(rootArg >= 0 ? args[rootArg + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
  const ignorePath = join(root, '.dockerignore');
  const { problems, stages } = checkDockerfile({
    dockerfile: readFileSync(join(root, 'Dockerfile'), 'utf8'),
    ignoreText: existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '',
    root,
    nodeVersion: pinnedNodeVersion(root),
    nodeFlags: platformNodeFlags(root),
  });
  for (const p of problems) console.error(`check-dockerfile: ${p}`);
  if (problems.length) process.exit(1);
  console.log(
    `check-dockerfile: Dockerfile read (stages ${stages.join(', ')}); the image itself is not built by this check`,
  );
}
