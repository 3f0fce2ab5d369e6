import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { Schemas } from '../api/client.js';
import { ApiClient, ApiError, dataOf } from './api-client.js';
import { CONTEXT_NAME, isHttpUrl, type KaasContext } from './config-file.js';
import { configFileFor, overridingVariables } from './connection.js';
import { type GlobalFlags, surroundings } from './context.js';
import { render } from './output.js';
import { readToken, readTokenFile } from './token-input.js';
import { UsageError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Identity {
  operator: boolean;
  /** The tenant key's own tenant, or the one the operator acts for. */
  tenant?: { id: string; name: string };
}

interface LoginOptions {
  name?: string;
  tokenFile?: string;
  insecureStore?: boolean;
}

/**
 * Who a token is, from reads both kinds of token may try: the tenant list answers the operator
 * (403 for a tenant key, which then reads its own tenant); a bad token is a 401 either way.
 */
export async function identify(client: ApiClient, tenant: string | undefined): Promise<Identity> {
  let answer: Schemas['TenantResponse'] | Schemas['TenantPage'];
  try {
    answer =
      tenant !== undefined && UUID.test(tenant)
        ? await dataOf(client.api.GET('/v1/tenants/{id}', { params: { path: { id: tenant } } }))
        : await dataOf(client.api.GET('/v1/tenants', { params: { query: { limit: 1, name: tenant } } }));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
    const own = await dataOf(client.api.GET('/v1/tenant'));
    if (tenant) {
      throw new Error(`--tenant is for an operator token; this is an API key of tenant "${own.name}"`, { cause: err });
    }
    return { operator: false, tenant: { id: own.id, name: own.name } };
  }
  if (!tenant) return { operator: true };
  const found = 'items' in answer ? answer.items[0] : answer;
  if (!found) throw new Error(`no tenant named "${tenant}"`);
  return { operator: true, tenant: { id: found.id, name: found.name } };
}

export function describeIdentity(identity: Identity): string {
  const tenant = identity.tenant ? `tenant ${identity.tenant.name} (${identity.tenant.id})` : '';
  if (!identity.operator) return tenant;
  return identity.tenant ? `the operator, acting for ${tenant}` : 'the operator';
}

/** `acme@kaas.example.com`, `operator@…`, `operator.acme@…`: who, then where. */
export function defaultContextName(server: string, identity: Identity): string {
  const host = new URL(server).host.replace(/[^A-Za-z0-9._:-]/g, '-');
  const who = identity.operator
    ? `operator${identity.tenant ? `.${identity.tenant.name}` : ''}`
    : (identity.tenant?.name ?? 'tenant');
  return `${who}@${host}`;
}

export function loginCommand(): Command {
  return new Command('login')
    .argument('<server>', 'the API address, e.g. https://kaas.example.com')
    .description('check a token against a server and save it as a context, made current')
    .option('--name <context>', 'the name of the context (default: <tenant or operator>@<host>)')
    .addOption(
      new Option(
        '--token-file <file>',
        'read the token from this file, now and at every use (the config keeps only its path)',
      ).conflicts('insecureStore'),
    )
    .option('--insecure-store', 'keep the token in the config itself instead of a 0600 file beside it')
    .addHelpText(
      'after',
      '\nThe token comes from --token-file, else from stdin when it is not a terminal, else from a\n' +
        'prompt that does not echo it. It is kept in tokens/<context> beside the config (mode 0600)\n' +
        'unless --token-file or --insecure-store is given. With the global --tenant, an operator\n' +
        'token acts for that tenant whenever the context is used.',
    )
    .action(async (server: string, opts: LoginOptions, cmd: Command) => login(server, opts, cmd));
}

async function login(server: string, opts: LoginOptions, cmd: Command): Promise<void> {
  const flags = cmd.optsWithGlobals<GlobalFlags>();
  const { env, stdin } = surroundings(cmd);
  const url = server.replace(/\/+$/, '');
  if (!isHttpUrl(url)) throw new UsageError(`"${server}" is not an http(s) URL such as https://kaas.example.com`);
  if (opts.name !== undefined && !CONTEXT_NAME.test(opts.name)) {
    throw new UsageError(
      `--name ${opts.name}: a context name is letters, digits and . _ @ : - (starting with a letter or digit)`,
    );
  }
  const file = configFileFor(env);
  if (!file) throw new Error('no place for the kaasctl config: set KAASCONFIG or HOME');
  // A config that cannot be read stops the login before a token is asked for.
  const config = file.load();

  let token: string;
  const tokenFile = opts.tokenFile ? resolve(opts.tokenFile) : undefined;
  if (tokenFile) {
    const read = readTokenFile(tokenFile);
    if (read.warning) process.stderr.write(`kaasctl: warning: ${read.warning}\n`);
    token = read.token;
  } else if (flags.token) {
    token = flags.token;
  } else {
    token = await readToken(stdin ?? process.stdin, `token for ${url}: `);
  }
  const tenant = flags.tenant || undefined;
  const identity = await identify(new ApiClient({ url, token }), tenant);

  const name = opts.name ?? defaultContextName(url, identity);
  const previous = config.contexts.find((c) => c.name === name);
  const context: KaasContext = { name, server: url };
  if (tokenFile) context.tokenFile = tokenFile;
  else if (opts.insecureStore) context.token = token;
  else context.tokenFile = file.storeToken(name, token);
  if (tenant) context.tenant = tenant;
  config.contexts = previous
    ? config.contexts.map((c) => (c.name === name ? context : c))
    : [...config.contexts, context];
  config.currentContext = name;
  file.save(config);
  if (previous?.tokenFile) file.forgetTokenFile(config, previous.tokenFile);

  const format = flags.output;
  if (format === 'table') {
    process.stdout.write(
      `logged in to ${url} as ${describeIdentity(identity)}; context "${name}" is now current (${file.path})\n`,
    );
  } else {
    const row = { context: name, server: url, operator: identity.operator, tenant: identity.tenant ?? null };
    process.stdout.write(`${render(row, [{ header: 'CONTEXT', value: (r: typeof row) => r.context }], format)}\n`);
  }
  for (const variable of overridingVariables(env)) {
    if (variable === 'KAAS_CONTEXT' && env.KAAS_CONTEXT === name) continue;
    const effect =
      variable === 'KAAS_CONTEXT'
        ? `commands use the context "${env.KAAS_CONTEXT}", not "${name}"`
        : `it wins over the context "${name}"`;
    process.stderr.write(`kaasctl: note: ${variable} is set, so ${effect}; unset it to use this context\n`);
  }
}
