import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parse, stringify } from 'yaml';

/** One way of reaching a platform: where, with which credential, and for which tenant. */
export interface KaasContext {
  name: string;
  server: string;
  /** The token itself; only with `login --insecure-store`. */
  token?: string;
  /** A file holding the token, read each time it is needed. */
  tokenFile?: string;
  /** The tenant (id or name) an operator token acts for. */
  tenant?: string;
}

export interface KaasConfig {
  currentContext?: string;
  contexts: KaasContext[];
}

/** Context names double as token file names, so they keep to characters every file system takes. */
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/;
const CONTEXT_KEYS = ['name', 'server', 'token', 'tokenFile', 'tenant'];
const TOP_KEYS = ['current-context', 'contexts'];

/**
 * Where the config lives: `$KAASCONFIG`, else `$XDG_CONFIG_HOME/kaas/config.yaml`, else
 * `$HOME/.config/kaas/config.yaml`. Only the given environment counts (an empty one names no file),
 * so a program built for a test never reads the config of whoever runs it.
 */
export function configPath(env: NodeJS.ProcessEnv): string | undefined {
  if (env.KAASCONFIG) return resolve(env.KAASCONFIG);
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'kaas', 'config.yaml');
  if (env.HOME) return join(env.HOME, '.config', 'kaas', 'config.yaml');
  return undefined;
}

export function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** The kaasctl config file and the token files kept beside it: every read and write of them. */
export class ConfigFile {
  constructor(readonly path: string) {}

  /** Token files that `login` writes; they belong to the config and go with their context. */
  get tokenFolder(): string {
    return join(dirname(this.path), 'tokens');
  }

  /** The config; an absent file is an empty config. */
  load(): KaasConfig {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: [] };
      throw new Error(`cannot read the kaasctl config ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    return parseConfig(text, this.path);
  }

  save(config: KaasConfig): void {
    writeAtomically(this.path, stringify(toDocument(config), { lineWidth: 0 }));
  }

  find(config: KaasConfig, name: string): KaasContext {
    const found = config.contexts.find((c) => c.name === name);
    if (!found) throw new Error(`no context "${name}" in ${this.path} (see kaasctl config get-contexts)`);
    return found;
  }

  /** The context's token: inline, or read from its token file now. */
  tokenOf(context: KaasContext): string {
    if (context.token) return context.token;
    if (!context.tokenFile) {
      throw new Error(
        `context "${context.name}" in ${this.path} has no token: run kaasctl login ${context.server} --name ${context.name}`,
      );
    }
    const file = this.tokenFilePath(context.tokenFile);
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new Error(`cannot read the token file ${file} of context "${context.name}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!token) throw new Error(`the token file ${file} of context "${context.name}" is empty`);
    return token;
  }

  /** A relative tokenFile is taken from the config's folder, as kubectl does with kubeconfig paths. */
  tokenFilePath(tokenFile: string): string {
    return isAbsolute(tokenFile) ? tokenFile : resolve(dirname(this.path), tokenFile);
  }

  /** Writes the token to tokens/<context> (0600, in a 0700 folder); its path. */
  storeToken(contextName: string, token: string): string {
    const file = join(this.tokenFolder, contextName);
    writeAtomically(file, `${token}\n`);
    return file;
  }

  /** Removes a token file this config wrote, once no context names it; others' files are left alone. */
  forgetTokenFile(config: KaasConfig, tokenFile: string | undefined): void {
    if (!tokenFile) return;
    const file = this.tokenFilePath(tokenFile);
    const inside = relative(this.tokenFolder, file);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return;
    if (config.contexts.some((c) => c.tokenFile && this.tokenFilePath(c.tokenFile) === file)) return;
    rmSync(file, { force: true });
  }
}

function parseConfig(text: string, path: string): KaasConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return { contexts: [] };
  const bad = (what: string) => new Error(`${path}: ${what} (see docs/cli.md for the file's shape)`);
  if (!isMapping(doc)) throw bad('the file must be a mapping with current-context and contexts');
  for (const key of Object.keys(doc)) {
    if (!TOP_KEYS.includes(key)) throw bad(`unknown key "${key}" (expected ${TOP_KEYS.join(', ')})`);
  }
  const current = doc['current-context'];
  if (current !== undefined && current !== null && typeof current !== 'string') {
    throw bad('current-context must be a context name');
  }
  const list = doc.contexts ?? [];
  if (!Array.isArray(list)) throw bad('contexts must be a list');
  const contexts = list.map((item: unknown, i): KaasContext => {
    const at = `contexts[${i}]`;
    if (!isMapping(item)) throw bad(`${at} must be a mapping`);
    const label = typeof item.name === 'string' ? `${at} ("${item.name}")` : at;
    for (const key of Object.keys(item)) {
      if (!CONTEXT_KEYS.includes(key))
        throw bad(`${label}: unknown key "${key}" (expected ${CONTEXT_KEYS.join(', ')})`);
    }
    for (const key of CONTEXT_KEYS) {
      if (item[key] !== undefined && typeof item[key] !== 'string') throw bad(`${label}: ${key} must be a string`);
    }
    const c = item as Partial<Record<keyof KaasContext, string>>;
    if (!c.name || !CONTEXT_NAME.test(c.name)) {
      throw bad(`${label}: name must be letters, digits and . _ @ : - (starting with a letter or digit)`);
    }
    if (!c.server || !isHttpUrl(c.server)) throw bad(`${label}: server must be an http(s) URL`);
    if (c.token && c.tokenFile) throw bad(`${label}: give token or tokenFile, not both`);
    return {
      name: c.name,
      server: c.server,
      ...(c.token ? { token: c.token } : {}),
      ...(c.tokenFile ? { tokenFile: c.tokenFile } : {}),
      ...(c.tenant ? { tenant: c.tenant } : {}),
    };
  });
  const seen = new Set<string>();
  for (const c of contexts) {
    if (seen.has(c.name)) throw bad(`the context "${c.name}" is defined twice`);
    seen.add(c.name);
  }
  return { ...(typeof current === 'string' && current ? { currentContext: current } : {}), contexts };
}

/** The file's shape: current-context at the top, then the contexts, each with its keys in a fixed order. */
export function toDocument(config: KaasConfig): Record<string, unknown> {
  return {
    ...(config.currentContext ? { 'current-context': config.currentContext } : {}),
    contexts: config.contexts.map((c) => ({
      name: c.name,
      server: c.server,
      ...(c.token ? { token: c.token } : {}),
      ...(c.tokenFile ? { tokenFile: c.tokenFile } : {}),
      ...(c.tenant ? { tenant: c.tenant } : {}),
    })),
  };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A folder this creates is 0700; one that exists already is the owner's business and is left as it is. */
export function ensureFolder(folder: string): void {
  try {
    if (statSync(folder).isDirectory()) return;
    throw new Error(`${folder} is not a folder`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  chmodSync(folder, 0o700);
}

/**
 * Writes a 0600 file beside the target and renames it over the target, so that a reader sees the
 * old content or the new, never half of it, and a crash leaves the old file whole.
 */
export function writeAtomically(path: string, content: string): void {
  const folder = dirname(path);
  const temp = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    ensureFolder(folder);
    const fd = openSync(temp, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
