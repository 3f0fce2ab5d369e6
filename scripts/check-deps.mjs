#!/usr/bin/env node
// `make check-deps` (part of `make test`): every program that the code, the tests or the scripts
// spawn on this machine must come from a Debian package that one of the repo's install steps
// names, or from a bare Debian bookworm with Node. CI machines keep what was once installed by
// hand, so a missing install line otherwise shows only on a fresh machine.
//
//   node scripts/check-deps.mjs [--root DIR] [--verbose]
//
// Programs spawned, found without running anything:
//   - TypeScript/JavaScript (src, test, bench, native, web, bin): the first string argument of
//     execFile/execFileSync/spawn/spawnSync; of the test helpers that take (program, [args])
//     (run, text, exec, inNs, runCommand), also after a leading namespace argument; the first
//     element of an argv array given to exec/spawnIn; the program after 'netns', 'exec', NS;
//     tool lists (TOOLS = [...], tools: [...], requireTools([...])); `sh -c` strings.
//   - Shell (scripts/**, test/**/*.sh, .ci/run, Makefile recipes): each word at command position,
//     found by a small lexer (quotes, $(...), heredocs, case patterns, function definitions),
//     through prefixes that run a command (exec, env, timeout, setsid, xargs, ip netns exec,
//     runuser --, unshare, flock, find -exec, sh -c '...', trap '...') and through the scripts'
//     own functions that run "$@". Heredocs are read when they write a script (a shebang, or a
//     target ending in .sh).
//   Not read: scripts/guest/rootfs (runs inside the guest, on busybox) and bundles/ (the bundles'
//   scripts run inside the guests too); programs after chroot run inside that root.
// Install lists: bash arrays named *PKGS/*pkgs, need_pkgs arguments and apt-get install
// arguments in the same shell files. The package that owns the program (dpkg -S, /usr-merge
// aware) must be named itself: coming in as a dependency of a named package is not enough, as
// dependencies change between releases (the message says when that is the case today).
// Base system: packages with "Essential: yes" or "Priority: required" (dpkg-query) and their
// dependencies: what debootstrap's minbase variant installs, i.e. debian:bookworm (apt, base-files,
// bash, bsdutils, coreutils, dash, debconf, debianutils, diffutils, dpkg, e2fsprogs, findutils,
// grep, gzip, hostname, init-system-helpers, libc-bin, login, mawk, mount, ncurses-bin, passwd,
// perl-base, sed, sysvinit-utils, tar, util-linux, ...); plus Node: the package of `node` (not its
// dependencies) and the names node, npm, npx and corepack, however Node was installed.
// Words that look like commands but are not programs: scripts/check-deps.allow, one word a line,
// `#` comments (none needed so far).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || args.includes('-v');
const rootArg = args.indexOf('--root');
const ROOT = resolve(rootArg >= 0 ? args[rootArg + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
const started = Date.now();

const SKIP_DIRS = new Set(['node_modules', 'dist', 'dist-bench', 'build', 'coverage', '.data', '.git', 'results']);
const GUEST_SIDE = ['scripts/guest/rootfs', 'bundles'];
const PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const NODE_PROGRAMS = new Set(['node', 'npm', 'npx', 'corepack']);
// A number alone (a port, a count handed to a script's own function) is no program.
const PROGRAM = /^(?!\d+$)(?:[A-Za-z0-9][A-Za-z0-9._+-]*|\/[A-Za-z0-9._+/-]+)$/;

// Bash builtins and keywords: never a program on disk when called by name.
const BUILTINS = new Set(
  (
    '. : [ [[ ]] alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs ' +
    'disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout ' +
    'mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend test times trap ' +
    'true type typeset ulimit umask unalias unset wait'
  ).split(' '),
);
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'time']);

// ---- files -------------------------------------------------------------------------------------
function walk(dir, keep, out = []) {
  let entries;
  try {
    entries = readdirSync(join(ROOT, dir), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = dir === '.' ? e.name : `${dir}/${e.name}`;
    if (GUEST_SIDE.includes(rel)) continue;
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) walk(rel, keep, out);
    } else if (e.isFile() && keep(rel)) out.push(rel);
  }
  return out;
}
const read = (rel) => readFileSync(join(ROOT, rel), 'utf8');
const shebangShell = (rel) => /^#!\s*\S*(?:\/|env\s+)(?:ba|da)?sh\b/.test(read(rel).slice(0, 100));

const codeFiles = ['src', 'test', 'bench', 'native', 'web', 'bin'].flatMap((d) =>
  walk(d, (rel) => /\.(?:[mc]?[jt]s)$/.test(rel) && !rel.endsWith('.d.ts')),
);
const shellFiles = ['scripts', 'test', 'bin', '.ci'].flatMap((d) =>
  walk(d, (rel) => rel.endsWith('.sh') || (!/\.\w+$/.test(rel) && shebangShell(rel))),
);

// ---- shell lexer -------------------------------------------------------------------------------
// Tokens: { w: raw, v: literal value or null when it expands something, t: text without quotes,
// line } for words, { op, line } for operators. Command substitutions met on the way are scanned
// at once through onCode(text, line).
function lex(src, baseLine, onCode) {
  const toks = [];
  let i = 0;
  let line = baseLine;
  const heredocs = [];
  let lastTarget = '';
  const n = src.length;

  // index just after the `)` closing a $( or <( opened before i (quotes and nesting respected)
  function closeParen(j) {
    let depth = 1;
    while (j < n) {
      const c = src[j];
      if (c === '\\') j += 2;
      else if (c === "'") j = src.indexOf("'", j + 1) + 1 || n;
      else if (c === '"') j = closeDouble(j + 1);
      else if (c === '#' && /\s/.test(src[j - 1])) {
        const nl = src.indexOf('\n', j);
        j = nl < 0 ? n : nl;
      } else {
        if (c === '(') depth++;
        else if (c === ')' && --depth === 0) return j + 1;
        j++;
      }
    }
    return n;
  }
  function closeDouble(j) {
    while (j < n && src[j] !== '"') {
      if (src[j] === '\\') j += 2;
      else if (src[j] === '$' && src[j + 1] === '(') j = closeParen(j + 2);
      else if (src[j] === '`') j = src.indexOf('`', j + 1) + 1 || n;
      else j++;
    }
    return j + 1;
  }
  function closeBrace(j) {
    let depth = 1;
    while (j < n && depth > 0) {
      if (src[j] === '\\') j++;
      else if (src[j] === '{') depth++;
      else if (src[j] === '}') depth--;
      j++;
    }
    return j;
  }
  const linesIn = (a, b) => (src.slice(a, b).match(/\n/g) ?? []).length;
  // $..., at i: returns [end, scanned substitution?]
  function dollar(j) {
    const c = src[j + 1];
    if (c === '(' && src[j + 2] === '(') {
      let depth = 2;
      let k = j + 3;
      while (k < n && depth > 0) {
        if (src[k] === '(') depth++;
        else if (src[k] === ')') depth--;
        k++;
      }
      return k;
    }
    if (c === '(') {
      const end = closeParen(j + 2);
      onCode(src.slice(j + 2, end - 1), line + linesIn(i, j));
      return end;
    }
    if (c === '{') return closeBrace(j + 2);
    if (c === "'") {
      let k = j + 2;
      while (k < n && src[k] !== "'") k += src[k] === '\\' ? 2 : 1;
      return k + 1;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9@*#?$!-]/.exec(src.slice(j + 1, j + 40));
    return j + 1 + (m ? m[0].length : 0);
  }

  function word() {
    const start = i;
    let v = '';
    let t = '';
    let literal = true;
    if (src.startsWith('[[', i) && /[\s]/.test(src[i + 2] ?? ' ')) {
      const end = src.indexOf(']]', i);
      i = end < 0 ? n : end + 2;
      return { w: src.slice(start, i), v: null, t: '', line };
    }
    while (i < n) {
      const c = src[i];
      if (/[\s;&|()<>]/.test(c)) {
        // NAME=( ... ): an array assignment is one word
        if (c === '(' && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$/.test(src.slice(start, i))) {
          const end = closeParen(i + 1);
          t += src.slice(i, end);
          i = end;
          literal = false;
          continue;
        }
        // <(...) and >(...) at the start of a word
        if ((c === '<' || c === '>') && src[i + 1] === '(' && i === start) {
          const end = closeParen(i + 2);
          onCode(src.slice(i + 2, end - 1), line);
          i = end;
          literal = false;
          continue;
        }
        break;
      }
      if (c === '\\') {
        if (src[i + 1] === '\n') {
          i += 2;
          line++;
          continue;
        }
        v += src[i + 1] ?? '';
        t += src[i + 1] ?? '';
        i += 2;
      } else if (c === "'") {
        const end = src.indexOf("'", i + 1);
        const s = src.slice(i + 1, end < 0 ? n : end);
        v += s;
        t += s;
        i = end < 0 ? n : end + 1;
      } else if (c === '"') {
        const end = closeDouble(i + 1);
        let k = i + 1;
        while (k < end - 1) {
          if (src[k] === '\\' && '$`"\\\n'.includes(src[k + 1])) {
            t += src[k + 1];
            v += src[k + 1];
            k += 2;
          } else if (src[k] === '$' && /[A-Za-z_({0-9@*#?$!-]/.test(src[k + 1] ?? '')) {
            const e = dollar(k);
            t += src.slice(k, e);
            literal = false;
            k = e;
          } else if (src[k] === '`') {
            const e = src.indexOf('`', k + 1);
            onCode(src.slice(k + 1, e), line);
            literal = false;
            k = e + 1;
          } else {
            t += src[k];
            v += src[k];
            k++;
          }
        }
        i = end;
      } else if (c === '$' && /[A-Za-z_({0-9@*#?$!'-]/.test(src[i + 1] ?? '')) {
        if (src[i + 1] === "'") {
          const e = dollar(i);
          v += src.slice(i + 2, e - 1);
          t += src.slice(i + 2, e - 1);
          i = e;
        } else {
          const e = dollar(i);
          t += src.slice(i, e);
          literal = false;
          i = e;
        }
      } else if (c === '`') {
        const e = src.indexOf('`', i + 1);
        onCode(src.slice(i + 1, e), line);
        literal = false;
        i = e + 1;
      } else {
        v += c;
        t += c;
        i++;
      }
    }
    return { w: src.slice(start, i), v: literal ? v : null, t, line };
  }

  function heredocBodies() {
    // i is just past a newline
    for (const h of heredocs.splice(0)) {
      const bodyStart = i;
      const bodyLine = line;
      let end = n;
      let next = n;
      let k = i;
      while (k < n) {
        const nl = src.indexOf('\n', k);
        const l = src.slice(k, nl < 0 ? n : nl);
        if ((h.strip ? l.replace(/^\t+/, '') : l) === h.delim) {
          end = k;
          next = nl < 0 ? n : nl + 1;
          break;
        }
        k = nl < 0 ? n : nl + 1;
      }
      const body = src.slice(bodyStart, end);
      if (/^#!\s*\S*(?:\/|env\s+)(?:ba|da)?sh\b/.test(body) || /\.sh"?$/.test(h.target)) onCode(body, bodyLine);
      line += linesIn(bodyStart, next);
      i = next;
    }
  }

  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      toks.push({ op: '\n', line });
      i++;
      line++;
      lastTarget = '';
      if (heredocs.length) heredocBodies();
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '\\' && src[i + 1] === '\n') {
      i += 2;
      line++;
    } else if (c === '#') {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? n : nl;
    } else if (src.startsWith('((', i)) {
      let depth = 0;
      const s = i;
      do {
        if (src[i] === '(') depth++;
        else if (src[i] === ')') depth--;
        i++;
      } while (i < n && depth > 0);
      toks.push({ w: src.slice(s, i), v: null, t: '', line });
    } else {
      const op = /^(?:;;&|;;|;&|&&|\|\||\|&|[;&|()])/.exec(src.slice(i, i + 3));
      const redir = /^[0-9]*(?:<<<|<<-|<<|<>|<&|>&|>>|>\||&>>|&>|<|>)/.exec(src.slice(i, i + 8));
      if (redir && !(src[i + redir[0].length - 1] === '<' && src[i + redir[0].length] === '(')) {
        const kind = redir[0].replace(/^[0-9]+/, '');
        i += redir[0].length;
        while (src[i] === ' ' || src[i] === '\t') i++;
        const target = word();
        if (kind === '<<' || kind === '<<-') {
          heredocs.push({ delim: target.t.replace(/['"]/g, ''), strip: kind === '<<-', target: lastTarget });
        } else if (kind.includes('>')) lastTarget = target.t;
      } else if (op) {
        toks.push({ op: op[0], line });
        i += op[0].length;
      } else {
        const w = word();
        if (w.w === '' && i < n)
          i++; // a lone character the lexer does not know: skip it
        else toks.push(w);
      }
    }
  }
  return toks;
}

// ---- shell parser: words at command position ---------------------------------------------------
const shellFunctions = new Set();
const shellWrappers = new Map(); // function name -> arguments it shifts before running "$@"

// index of the command run by the prefix command at words[i], or -1
function nestedCommand(words, i) {
  const name = words[i].v;
  const next = (j, withArg = new Set(), stopAtDashDash = false) => {
    while (j < words.length) {
      const v = words[j].v ?? '';
      if (stopAtDashDash && v === '--') return j + 1;
      if (!v.startsWith('-') || v === '-') break;
      j += withArg.has(v) ? 2 : 1;
    }
    return j;
  };
  const base = name.split('/').pop();
  switch (base) {
    case 'exec':
    case 'nohup':
    case 'setsid':
    case 'builtin':
    case 'stdbuf':
    case 'sudo':
      return next(i + 1, new Set(['-a', '-u']));
    case 'command':
      return ['-v', '-V'].includes(words[i + 1]?.v) ? -1 : next(i + 1);
    case 'nice':
      return next(i + 1, new Set(['-n']));
    case 'env': {
      let j = next(i + 1, new Set(['-u', '-C', '-S']));
      while (j < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[j].w)) j++;
      return j;
    }
    case 'timeout':
      return next(i + 1, new Set(['-s', '-k', '--signal', '--kill-after'])) + 1;
    case 'xargs':
      return next(i + 1, new Set(['-I', '-n', '-P', '-L', '-d', '-s', '-E', '-a']));
    case 'runuser': {
      const dd = words.findIndex((w, k) => k > i && w.v === '--');
      return dd < 0 ? -1 : dd + 1;
    }
    case 'unshare':
      return next(i + 1, new Set(['--propagation', '--setgroups', '-S', '--setuid', '-G', '--setgid', '-R', '-w']));
    case 'flock': {
      const j = next(i + 1, new Set(['-w', '--timeout', '-E', '--conflict-exit-code']));
      return j + 1 < words.length ? j + 1 : -1;
    }
    case 'ip':
      return words[i + 1]?.v === 'netns' && words[i + 2]?.v === 'exec' ? i + 4 : -1;
    case 'vmenv.sh':
      return words[i + 1]?.v === 'exec' ? i + 2 : -1;
  }
  if (shellWrappers.has(name)) return i + 1 + shellWrappers.get(name);
  return -1;
}

function shellCommands(src, file, baseLine, found) {
  const toks = lex(src, baseLine, (code, line) => shellCommands(code, file, line, found));
  let cur = [];
  let pattern = false;
  let caseDepth = 0;
  let skipCase = 0;
  let forLoop = false;
  const funcs = []; // { name, depth, shifts }
  let depth = 0;
  let pendingFunc = null;

  const emit = (w) => found.push({ name: w.v, file, line: w.line });
  function command(words, i) {
    while (i < words.length && i >= 0) {
      const w = words[i];
      if (w.v === null) {
        if ((w.w === '"$@"' || w.w === '$@') && funcs.length) {
          const f = funcs[funcs.length - 1];
          if (!shellWrappers.has(f.name)) shellWrappers.set(f.name, f.shifts);
        }
        return;
      }
      const name = w.v;
      if (name === 'chroot') return emit(w);
      if (name === 'shift' && funcs.length) funcs[funcs.length - 1].shifts += Number(words[i + 1]?.v ?? 1) || 1;
      if (name === 'trap' && words[i + 1]) shellCommands(words[i + 1].t, file, words[i + 1].line, found);
      if (name.includes('/') && !name.startsWith('/')) {
        i = nestedCommand(words, i);
        continue;
      }
      if (!BUILTINS.has(name) && !shellFunctions.has(name) && PROGRAM.test(name)) emit(w);
      const base = name.split('/').pop();
      // sh -c 'code', busybox sh -c 'code'
      const shell = ['sh', 'bash', 'dash'].includes(base) || (base === 'busybox' && words[i + 1]?.v === 'sh');
      if (shell) {
        const c = words.findIndex((x, k) => k > i && x.v === '-c');
        if (c > 0 && words[c + 1]) shellCommands(words[c + 1].t, file, words[c + 1].line, found);
        return;
      }
      if (base === 'find') {
        words.forEach((x, k) => {
          if (k > i && (x.v === '-exec' || x.v === '-execdir') && words[k + 1]) command(words, k + 1);
        });
        return;
      }
      i = nestedCommand(words, i);
    }
  }
  function flush() {
    const words = cur;
    cur = [];
    let i = 0;
    while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(words[i].w)) i++;
    if (i < words.length) command(words, i);
  }

  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k];
    if (pattern) {
      if (tok.v === 'esac') {
        pattern = false;
        caseDepth--;
      } else if (tok.op === ')') pattern = false;
      continue;
    }
    if (skipCase) {
      if (tok.op === '\n') continue;
      if (--skipCase === 0) pattern = true;
      continue;
    }
    if (forLoop) {
      if (tok.op === ';' || tok.op === '\n' || tok.v === 'do') forLoop = false;
      continue;
    }
    if (tok.op) {
      if (tok.op === '(' && cur.length === 1 && toks[k + 1]?.op === ')' && cur[0].v) {
        shellFunctions.add(cur[0].v);
        pendingFunc = cur[0].v;
        cur = [];
        k++;
        continue;
      }
      flush();
      if (caseDepth > 0 && (tok.op === ';;' || tok.op === ';&' || tok.op === ';;&')) pattern = true;
      continue;
    }
    if (cur.length === 0 && tok.v !== null) {
      if (tok.v === 'case') {
        caseDepth++;
        skipCase = 2;
        continue;
      }
      if (tok.v === 'esac') {
        caseDepth--;
        continue;
      }
      if (tok.v === 'for' || tok.v === 'select') {
        forLoop = true;
        continue;
      }
      if (tok.v === 'function') {
        const name = toks[k + 1]?.v;
        if (name) {
          shellFunctions.add(name);
          pendingFunc = name;
        }
        k++;
        if (toks[k + 1]?.op === '(' && toks[k + 2]?.op === ')') k += 2;
        continue;
      }
      if (tok.v === '{') {
        depth++;
        if (pendingFunc) funcs.push({ name: pendingFunc, depth, shifts: 0 });
        pendingFunc = null;
        continue;
      }
      if (tok.v === '}') {
        if (funcs.length && funcs[funcs.length - 1].depth === depth) funcs.pop();
        depth--;
        continue;
      }
      if (KEYWORDS.has(tok.v)) continue;
    }
    cur.push(tok);
  }
  flush();
  return found;
}

// Makefile recipe lines as shell, on their own line numbers
function makeRecipes(text) {
  return text.split('\n').map((l) =>
    l.startsWith('\t')
      ? l
          .slice(1)
          .replace(/^[@+-]+/, '')
          .replace(/\$\$/g, '$')
          .replace(/\$[({]\w+[)}]/g, '$MAKEVAR')
      : '',
  );
}

// ---- TypeScript/JavaScript ---------------------------------------------------------------------
const STR = String.raw`(?:'([^'\n]*)'|"([^"\n]*)"|\x60([^\x60$]*)\x60)`;
const CODE_RULES = [
  // execFile('x', ...), spawn('x', ...)
  new RegExp(String.raw`\b(?:execFile|execFileSync|spawn|spawnSync|execFileAsync)\(\s*${STR}`, 'g'),
  // test helpers taking (program, [args]), optionally after a namespace: run('x', [..]), inNs(ns, 'x', [..])
  new RegExp(String.raw`\b(?:run|text|exec|inNs|runCommand)\(\s*(?:[\w.]+,\s*)?${STR},\s*\[`, 'g'),
  // an argv array: exec(['x', ...]), spawnIn(['x', ...])
  new RegExp(String.raw`\b(?:exec|spawnIn|execFileSync|spawnSync)\(\s*\[\s*${STR}`, 'g'),
  // ip netns exec NS x
  new RegExp(String.raw`'netns',\s*'exec',\s*[\w.]+,\s*${STR}`, 'g'),
];
const TOOL_LISTS = /\b(?:TOOLS\s*=|tools:|requireTools\()\s*\[([^\]]*)\]/g;
const SHELL_C = new RegExp(
  String.raw`['"](?:sh|bash|dash)['"],\s*\[\s*'-c',\s*(?:'([^'\n]*)'|\x60([^\x60]*)\x60)`,
  'g',
);

function codePrograms(file, found) {
  const text = read(file);
  const lineAt = (idx) => text.slice(0, idx).split('\n').length;
  const add = (name, idx) => found.push({ name, file, line: lineAt(idx) });
  for (const re of CODE_RULES) {
    for (const m of text.matchAll(re)) {
      const name = m[1] ?? m[2] ?? m[3];
      if (name !== undefined) add(name, m.index + m[0].lastIndexOf(name));
    }
  }
  for (const m of text.matchAll(TOOL_LISTS)) {
    for (const s of m[1].matchAll(/'([^']+)'/g)) add(s[1], m.index);
  }
  for (const m of text.matchAll(SHELL_C)) {
    const code = (m[1] ?? m[2]).replace(/\$\{[^}]*\}/g, '$X');
    shellCommands(code, file, lineAt(m.index), found);
  }
}

// ---- install lists -----------------------------------------------------------------------------
function installLists(file, text, lists) {
  const add = (words, how) => {
    for (const raw of words.split(/\s+/)) {
      const p = raw.replace(/^["']|["']$/g, '');
      if (/^[a-z0-9][a-z0-9+.-]+$/.test(p)) {
        if (!lists.has(p)) lists.set(p, `${file} (${how})`);
      }
    }
  };
  const code = text.replace(/#[^\n]*/g, (c, idx) => (idx === 0 || /\s/.test(text[idx - 1]) ? '' : c));
  for (const m of code.matchAll(/\b(\w*(?:PKGS|pkgs))\+?=\(([^)]*)\)/g)) add(m[2], m[1]);
  for (const m of code.matchAll(/\bneed_pkgs[ \t]+([^;&|<>\n]+)/g)) add(m[1], 'need_pkgs');
  for (const m of code.matchAll(/\bapt-get\s+install\s+([^;&|<>\n]+)/g)) {
    add(m[1].replace(/(^|\s)-\S*/g, ' '), 'apt-get install');
  }
}

// ---- Debian packages ---------------------------------------------------------------------------
function dpkgDatabase() {
  const out = spawnSync(
    'dpkg-query',
    [
      '-W',
      '-f',
      '${Package}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t${Pre-Depends}\t${Depends}\t${Provides}\n',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (out.status !== 0) throw new Error(`dpkg-query failed: ${out.stderr}`);
  const pkgs = new Map();
  const providers = new Map();
  for (const l of out.stdout.split('\n')) {
    const [name, status, essential, priority, pre, deps, provides] = l.split('\t');
    if (!name || !status?.startsWith('ii')) continue;
    pkgs.set(name, { base: essential === 'yes' || priority === 'required', deps: [pre, deps].join(',') });
    for (const p of (provides ?? '').split(',')) {
      const v = p.trim().split(/[\s(:]/)[0];
      if (v) providers.set(v, [...(providers.get(v) ?? []), name]);
    }
  }
  // what apt installs along with NAMES: Depends and Pre-Depends, first alternative
  const closure = (names) => {
    const seen = new Set();
    const todo = [...names];
    while (todo.length) {
      const p = todo.pop();
      for (const real of pkgs.has(p) ? [p] : (providers.get(p) ?? [])) {
        if (seen.has(real)) continue;
        seen.add(real);
        for (const group of pkgs.get(real).deps.split(',')) {
          const first = group
            .split('|')[0]
            .trim()
            .split(/[\s(:]/)[0];
          if (first) todo.push(first);
        }
      }
    }
    return seen;
  };
  return { pkgs, closure };
}

function resolveProgram(name) {
  if (name.startsWith('/')) return existsSync(name) ? name : null;
  for (const d of PATH_DIRS) {
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this folder
    }
  }
  return null;
}

function owners(paths) {
  const twin = (p) => (p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`);
  const candidates = new Map();
  for (const p of paths) {
    let real = p;
    try {
      real = realpathSync(p);
    } catch {
      // dangling link: its own path is all there is
    }
    candidates.set(p, [...new Set([p, twin(p), real, twin(real)])]);
  }
  const all = [...new Set([...candidates.values()].flat())];
  const found = new Map();
  if (all.length) {
    const out = spawnSync('dpkg', ['-S', ...all], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    for (const l of out.stdout.split('\n')) {
      const at = l.indexOf(': /');
      if (at < 0 || l.startsWith('diversion by')) continue;
      found.set(
        l.slice(at + 2),
        l
          .slice(0, at)
          .split(', ')
          .map((x) => x.replace(/:[a-z0-9]+$/, '')),
      );
    }
  }
  return new Map(
    paths.map((p) => [
      p,
      candidates
        .get(p)
        .map((c) => found.get(c))
        .find(Boolean) ?? null,
    ]),
  );
}

// ---- main --------------------------------------------------------------------------------------
const allowFile = join(ROOT, 'scripts', 'check-deps.allow');
const allowed = new Set(
  existsSync(allowFile)
    ? readFileSync(allowFile, 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter(Boolean)
    : [],
);

const shellSources = shellFiles.map((f) => [f, read(f)]);
if (existsSync(join(ROOT, 'Makefile'))) shellSources.push(['Makefile', makeRecipes(read('Makefile')).join('\n')]);

// the scripts' own functions and wrappers first, so that every file sees those of the files it sources
// (the tests also source the bundles' scripts: their functions are no programs either)
const bundleScripts = [];
for (const b of existsSync(join(ROOT, 'bundles')) ? readdirSync(join(ROOT, 'bundles')) : []) {
  const dir = join(ROOT, 'bundles', b, 'scripts');
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir))
    if (f.endsWith('.sh')) bundleScripts.push([`bundles/${b}/scripts/${f}`, read(`bundles/${b}/scripts/${f}`)]);
}
for (const [f, text] of [...bundleScripts, ...shellSources]) shellCommands(text, f, 1, []);
const found = [];
for (const [f, text] of shellSources) shellCommands(text, f, 1, found);
for (const f of codeFiles) codePrograms(f, found);

const lists = new Map();
for (const [f, text] of shellSources) installLists(f, text, lists);

const spawned = new Map(); // program -> places
for (const s of found) {
  if (!PROGRAM.test(s.name) || allowed.has(s.name) || NODE_PROGRAMS.has(s.name)) continue;
  if (BUILTINS.has(s.name) || (shellFunctions.has(s.name) && !s.file.match(/\.[mc]?[jt]s$/))) continue;
  const at = `${s.file}:${s.line}`;
  spawned.set(s.name, [...new Set([...(spawned.get(s.name) ?? []), at])]);
}

const { pkgs, closure } = dpkgDatabase();
const nodePath = resolveProgram('node');
const nodePkg = nodePath ? (owners([nodePath]).get(nodePath) ?? []) : [];
const baseSet = new Set([...closure([...pkgs].filter(([, p]) => p.base).map(([name]) => name)), ...nodePkg]);
const installed = closure([...lists.keys()]);

const paths = new Map([...spawned.keys()].map((name) => [name, resolveProgram(name)]));
const owner = owners([...new Set([...paths.values()].filter(Boolean))]);
const problems = [];
const table = [];
for (const [name, places] of [...spawned].sort(([a], [b]) => a.localeCompare(b))) {
  const where = places.length > 1 ? `${places[0]} (and ${places.length - 1} more)` : places[0];
  const path = paths.get(name);
  if (!path) {
    problems.push(`${name}: not installed on this machine; spawned by ${where}`);
    continue;
  }
  const from = owner.get(path);
  if (!from) {
    problems.push(`${name}: ${path} belongs to no Debian package; spawned by ${where}`);
    continue;
  }
  const listed = from.find((p) => lists.has(p));
  const base = from.find((p) => baseSet.has(p));
  if (listed) table.push(`${name}\t${listed}\tnamed in ${lists.get(listed)}`);
  else if (base) table.push(`${name}\t${base}\tbase system`);
  else {
    // Arriving as another package's dependency is not enough: that dependency can change.
    const dep = from.some((p) => installed.has(p)) ? ' (today only as a dependency of a named package)' : '';
    problems.push(
      `${name}: from Debian package ${from.join(', ')}, which no install step names and the base system lacks${dep};` +
        ` spawned by ${where}`,
    );
  }
}

if (verbose) {
  for (const row of table) console.log(row);
  for (const [name, places] of spawned) console.log(`# ${name}: ${places.join(' ')}`);
}
const seconds = ((Date.now() - started) / 1000).toFixed(2);
if (problems.length) {
  for (const p of problems) console.error(`check-deps: ${p}`);
  console.error(
    `check-deps: ${problems.length} problem(s); add the package to PKGS in scripts/deps.sh` +
      ` (or a word that is no program to scripts/check-deps.allow) (${seconds} s)`,
  );
  process.exit(1);
}
console.error(
  `check-deps: ${spawned.size} programs spawned in ${relative(process.cwd(), ROOT) || '.'}, each installed by` +
    ` the repo's install steps or the base system (${seconds} s)`,
);
