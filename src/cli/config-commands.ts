import { resolve } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { type ConfigFile, CONTEXT_NAME, isHttpUrl, type KaasContext, toDocument } from './config-file.js';
import { configFileFor, selectedContextName } from './connection.js';
import { type GlobalFlags, surroundings } from './context.js';
import { type Column, render } from './output.js';
import { looseModeWarning } from './token-input.js';
import { UsageError } from './errors.js';

interface ContextRow {
  name: string;
  current: boolean;
  server: string;
  tenant: string | null;
  auth: 'tokenFile' | 'token' | 'none';
}

const contextColumns: Column<ContextRow>[] = [
  { header: 'NAME', value: (r) => r.name },
  { header: 'CURRENT', value: (r) => (r.current ? '*' : '') },
  { header: 'SERVER', value: (r) => r.server },
  { header: 'TENANT', value: (r) => r.tenant },
  { header: 'AUTH', value: (r) => r.auth },
];

/** The config file, the global flags and the environment a config command works with. */
function scope(cmd: Command): { file: ConfigFile; flags: GlobalFlags; env: NodeJS.ProcessEnv } {
  const { env } = surroundings(cmd);
  const file = configFileFor(env);
  if (!file) throw new Error('no kaasctl config: set KAASCONFIG or HOME');
  return { file, flags: cmd.optsWithGlobals<GlobalFlags>(), env };
}

function checkName(name: string): void {
  if (!CONTEXT_NAME.test(name)) {
    throw new UsageError(
      `"${name}" is no context name: letters, digits and . _ @ : - (starting with a letter or digit)`,
    );
  }
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function configCommands(): Command {
  const config = new Command('config').description(
    "kaasctl's contexts (server, token, tenant) in $KAASCONFIG or ~/.config/kaas/config.yaml; see docs/cli.md",
  );

  config
    .command('get-contexts')
    .description('list the contexts; * marks the one in use (--context, else KAAS_CONTEXT, else current-context)')
    .action((_o, cmd: Command) => {
      const { file, flags, env } = scope(cmd);
      const loaded = file.load();
      const inUse = selectedContextName(flags, env, loaded.currentContext);
      const rows = loaded.contexts.map((c): ContextRow => ({
        name: c.name,
        current: c.name === inUse,
        server: c.server,
        tenant: c.tenant ?? null,
        auth: c.tokenFile ? 'tokenFile' : c.token ? 'token' : 'none',
      }));
      print(render(rows, contextColumns, flags.output, false));
    });

  config
    .command('use-context <name>')
    .description('make a context the current one')
    .action((name: string, _o, cmd: Command) => {
      const { file } = scope(cmd);
      const loaded = file.load();
      file.find(loaded, name);
      loaded.currentContext = name;
      file.save(loaded);
      print(`switched to context "${name}"`);
    });

  config
    .command('current-context')
    .description('print the name of the context in use (--context, else KAAS_CONTEXT, else current-context)')
    .action((_o, cmd: Command) => {
      const { file, flags, env } = scope(cmd);
      const loaded = file.load();
      const name = selectedContextName(flags, env, loaded.currentContext);
      if (!name) {
        throw new Error(
          `no current context in ${file.path}: run kaasctl login <server> or kaasctl config use-context NAME`,
        );
      }
      print(file.find(loaded, name).name);
    });

  config
    .command('set-context <name>')
    .description('create a context or change some of its fields (the current context stays as it is)')
    .option('--server <url>', 'the API address (needed to create a context)')
    .option('--token-file <file>', 'a file holding the token, read at every use (kept as an absolute path)')
    .addHelpText(
      'after',
      '\nThe global --tenant sets the tenant an operator token acts for; --tenant "" removes it.\n' +
        'A token itself is never taken here: use `kaasctl login`, or --token-file.',
    )
    .action((name: string, opts: { server?: string; tokenFile?: string }, cmd: Command) => {
      const { file, flags } = scope(cmd);
      if (flags.token !== undefined) {
        throw new UsageError(
          'set-context takes no --token (it would stay in shell history): use --token-file or kaasctl login',
        );
      }
      if (flags.url !== undefined) throw new UsageError('set-context takes --server, not --url');
      checkName(name);
      const loaded = file.load();
      const existing = loaded.contexts.find((c) => c.name === name);
      if (!existing && !opts.server) {
        throw new UsageError(`no context "${name}" in ${file.path}; give --server to create it`);
      }
      if (opts.server !== undefined && !isHttpUrl(opts.server)) {
        throw new UsageError(`--server ${opts.server}: not an http(s) URL such as https://kaas.example.com`);
      }
      const next: KaasContext = existing ? { ...existing } : { name, server: opts.server as string };
      if (opts.server) next.server = opts.server.replace(/\/+$/, '');
      if (opts.tokenFile) {
        next.tokenFile = resolve(opts.tokenFile);
        delete next.token;
        const warning = looseModeWarning(next.tokenFile);
        if (warning) process.stderr.write(`kaasctl: warning: ${warning}\n`);
      }
      if (flags.tenant !== undefined) {
        if (flags.tenant) next.tenant = flags.tenant;
        else delete next.tenant;
      }
      loaded.contexts = existing
        ? loaded.contexts.map((c) => (c.name === name ? next : c))
        : [...loaded.contexts, next];
      file.save(loaded);
      if (existing?.tokenFile) file.forgetTokenFile(loaded, existing.tokenFile);
      print(`context "${name}" ${existing ? 'modified' : 'created'} in ${file.path}`);
    });

  config
    .command('delete-context <name>')
    .description('remove a context, and the token file `login` wrote for it')
    .action((name: string, _o, cmd: Command) => {
      const { file } = scope(cmd);
      const loaded = file.load();
      const removed = file.find(loaded, name);
      loaded.contexts = loaded.contexts.filter((c) => c.name !== name);
      if (loaded.currentContext === name) {
        delete loaded.currentContext;
        process.stderr.write(
          `kaasctl: note: "${name}" was the current context; none is now (kaasctl config use-context NAME)\n`,
        );
      }
      file.save(loaded);
      file.forgetTokenFile(loaded, removed.tokenFile);
      print(`deleted context "${name}" from ${file.path}`);
    });

  config
    .command('view')
    .description('print the config (YAML, or -o json), tokens redacted')
    .action((_o, cmd: Command) => {
      const { file, flags } = scope(cmd);
      const loaded = file.load();
      const doc = toDocument({
        ...loaded,
        contexts: loaded.contexts.map((c) => (c.token ? { ...c, token: '<redacted>' } : c)),
      });
      print(flags.output === 'json' ? JSON.stringify(doc, null, 2) : stringify(doc, { lineWidth: 0 }).trimEnd());
    });

  return config;
}
