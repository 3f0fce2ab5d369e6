import { Command, type Option } from 'commander';
import { dataOf } from './api-client.js';
import { configFileFor, resolveConnection } from './connection.js';
import { CliContext, type NamedList, surroundings } from './context.js';
import { UsageError } from './errors.js';
import { FORMATS } from './output.js';

/**
 * Shell completion: the scripts ask kaasctl itself (`kaasctl __complete <words>`), so that they
 * stay a few lines and the answers follow the command tree and the platform's resources.
 */
const SCRIPTS: Record<string, string> = {
  bash: `# kaasctl completion for bash: add to ~/.bashrc
#   source <(kaasctl completion bash)
_kaasctl() {
  local IFS=$'\\n'
  COMPREPLY=($(kaasctl __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _kaasctl kaasctl
`,
  zsh: `#compdef kaasctl
# kaasctl completion for zsh: add to ~/.zshrc
#   source <(kaasctl completion zsh)
_kaasctl() {
  local -a candidates
  candidates=("\${(@f)$(kaasctl __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _kaasctl kaasctl
`,
  fish: `# kaasctl completion for fish: save as ~/.config/fish/completions/kaasctl.fish
#   kaasctl completion fish > ~/.config/fish/completions/kaasctl.fish
complete -c kaasctl -f -a '(kaasctl __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
};

/** A list whose names complete an argument. */
type NameList = NamedList | '/v1/hosts';

/** Which list names the argument of a command: by the argument's name, else by the command group. */
const ARGUMENT_LISTS: Record<string, NameList> = {
  cluster: '/v1/clusters',
  clusters: '/v1/clusters',
  vpcs: '/v1/vpcs',
  'storage-pools': '/v1/storage-pools',
  'floating-ips': '/v1/floating-ips',
  hosts: '/v1/hosts',
  tenants: '/v1/tenants',
};

/** Resource names for an argument; nothing (silently) when the platform cannot be asked quickly. */
export type NameSource = (listPath: NameList) => Promise<string[]>;

function apiNames(env: NodeJS.ProcessEnv): NameSource {
  return async (listPath) => {
    const conn = resolveConnection({}, env);
    if (!conn.token) return [];
    const ctx = new CliContext({ url: conn.url, token: conn.token, tenant: conn.tenant, output: 'name' });
    const ask = async (): Promise<{ name?: string; address?: string }[]> => {
      const operatorList = listPath === '/v1/tenants' || listPath === '/v1/hosts';
      const client = operatorList ? ctx.client : await ctx.tenantClient();
      return (await dataOf(client.api.GET(listPath, { params: { query: { limit: 100 } } }))).items;
    };
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('slow')), 3000).unref());
    const items = await Promise.race([ask(), timer]);
    return items.map((i) => i.name ?? i.address ?? '').filter(Boolean);
  };
}

const longNames = (options: readonly Option[]) =>
  options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x)));

function findOption(cmds: Command[], flag: string): Option | undefined {
  for (const c of cmds) {
    const found = c.options.find((o) => o.long === flag || o.short === flag);
    if (found) return found;
  }
  return undefined;
}

/**
 * The candidates for the last of `words` (the word being typed; empty for a new one), the others
 * being what comes before it on the command line after `kaasctl`.
 */
export async function complete(program: Command, words: string[], names: NameSource): Promise<string[]> {
  const typed = words.length ? words[words.length - 1] : '';
  const before = words.slice(0, -1);
  const path: Command[] = [program];
  let positional = 0;
  let valueFor: Option | undefined;
  for (const word of before) {
    const here = path[path.length - 1];
    if (valueFor) {
      valueFor = undefined;
      continue;
    }
    if (word.startsWith('-')) {
      const option = findOption(path, word.split('=')[0]);
      // `<value>` options take the next word; `[value]` ones (--wait) only with `=`.
      if (option?.required && !word.includes('=')) valueFor = option;
      continue;
    }
    const sub = here.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub && positional === 0) path.push(sub);
    else positional++;
  }
  const here = path[path.length - 1];
  const starting = (list: string[]) => [...new Set(list)].filter((c) => c.startsWith(typed)).sort();
  if (valueFor) {
    if (valueFor.long === '--output') return starting(FORMATS);
    if (valueFor.long === '--context') return starting(await contextNames(program));
    if (valueFor.long === '--tenant') return starting(await names('/v1/tenants').catch(() => []));
    return [];
  }
  if (typed.startsWith('-')) return starting(longNames(path.flatMap((c) => c.options)));
  const subs = here.commands.filter((c) => c.name() !== '__complete').map((c) => c.name());
  if (subs.length && positional === 0) return starting(subs);
  // The first argument of a command, if it names a resource of a list the platform has.
  const arg = here.registeredArguments[positional]?.name();
  const group = path[1]?.name();
  const list =
    arg === undefined
      ? undefined
      : (ARGUMENT_LISTS[arg] ?? (positional === 0 ? ARGUMENT_LISTS[group ?? ''] : undefined));
  if (arg === 'name' && group === 'config') return starting(await contextNames(program));
  if (!list || (arg === 'name' && here.name() === 'create')) return [];
  return starting(await names(list).catch(() => []));
}

async function contextNames(program: Command): Promise<string[]> {
  try {
    const file = configFileFor(surroundings(program).env);
    return file ? file.load().contexts.map((c) => c.name) : [];
  } catch {
    return [];
  }
}

/** `kaasctl completion bash|zsh|fish`. */
export function completionCommand(): Command {
  return new Command('completion')
    .argument('<shell>', 'bash, zsh or fish')
    .description('print the shell completion script for bash, zsh or fish')
    .addHelpText(
      'after',
      '\nExamples:\n  source <(kaasctl completion bash)          # in ~/.bashrc\n' +
        '  source <(kaasctl completion zsh)           # in ~/.zshrc\n' +
        '  kaasctl completion fish > ~/.config/fish/completions/kaasctl.fish',
    )
    .action((shell: string) => {
      const script = SCRIPTS[shell];
      if (!script) throw new UsageError(`no completion for "${shell}": bash, zsh or fish`);
      process.stdout.write(script);
    });
}

/**
 * `kaasctl __complete <words...>`, which the scripts call: prints the candidates, one per line.
 * Taken before commander parses anything, since the words are half a command line.
 */
export async function printCompletions(program: Command, words: string[], names?: NameSource): Promise<void> {
  const found = await complete(program, words, names ?? apiNames(surroundings(program).env));
  if (found.length) process.stdout.write(`${found.join('\n')}\n`);
}

export const COMPLETION_SHELLS = Object.keys(SCRIPTS);
