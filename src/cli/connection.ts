import { ConfigFile, configPath, type KaasContext } from './config-file.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The global flags that say where to connect and as whom; undefined when not given. */
export interface ConnectionFlags {
  url?: string;
  token?: string;
  tenant?: string;
  context?: string;
}

export interface Connection {
  url: string;
  token?: string;
  tenant?: string;
}

/** The config file the environment names, if it names one. */
export function configFileFor(env: NodeJS.ProcessEnv): ConfigFile | undefined {
  const path = configPath(env);
  return path ? new ConfigFile(path) : undefined;
}

/** An empty variable counts as unset, as `${VAR:-default}` treats it in a shell. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name] ? env[name] : undefined;
}

/** The context chosen by --context, else KAAS_CONTEXT, else the file's current-context. */
export function selectedContextName(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  currentContext: string | undefined,
): string | undefined {
  return flags.context ?? envValue(env, 'KAAS_CONTEXT') ?? currentContext;
}

/**
 * Server, token and tenant, each taken on its own from the first place that gives it:
 *   1. the flag (--url, --token, --tenant);
 *   2. the environment (KAAS_URL; KAAS_TOKEN, else KAAS_ADMIN_TOKEN; KAAS_TENANT);
 *   3. the context named by --context, else KAAS_CONTEXT, else the config's current-context.
 * The server falls back to DEFAULT_URL. The config file is read only when a value is still missing
 * or a context is asked for by name, and a token file only when the token comes from it.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  file: ConfigFile | undefined = configFileFor(env),
): Connection {
  const requested = flags.context ?? envValue(env, 'KAAS_CONTEXT');
  const requestedBy = flags.context !== undefined ? '--context' : 'KAAS_CONTEXT';
  let chosen: KaasContext | null | undefined;
  const context = (): KaasContext | undefined => {
    if (chosen !== undefined) return chosen ?? undefined;
    chosen = null;
    if (!file) {
      if (requested) throw new Error(`${requestedBy} ${requested}: no kaasctl config (set KAASCONFIG or HOME)`);
      return undefined;
    }
    const config = file.load();
    const name = requested ?? config.currentContext;
    if (!name) return undefined;
    const found = config.contexts.find((c) => c.name === name);
    if (!found) {
      throw new Error(
        requested
          ? `${requestedBy} ${name}: no context "${name}" in ${file.path} (see kaasctl config get-contexts)`
          : `current-context "${name}" in ${file.path} names no context (run kaasctl config use-context NAME)`,
      );
    }
    chosen = found;
    return found;
  };
  // A context asked for by name must exist even when flags and environment give every value.
  if (requested) context();

  const url = flags.url ?? envValue(env, 'KAAS_URL') ?? context()?.server ?? DEFAULT_URL;
  let token = flags.token ?? envValue(env, 'KAAS_TOKEN') ?? envValue(env, 'KAAS_ADMIN_TOKEN');
  if (token === undefined) {
    const c = context();
    if (c && file) token = file.tokenOf(c);
  }
  const tenant = flags.tenant ?? envValue(env, 'KAAS_TENANT') ?? context()?.tenant;
  return { url, token, tenant };
}

/** The variables that, when set, win over the context: what `login` warns about. */
export function overridingVariables(env: NodeJS.ProcessEnv): string[] {
  return ['KAAS_URL', 'KAAS_TOKEN', 'KAAS_ADMIN_TOKEN', 'KAAS_TENANT', 'KAAS_CONTEXT'].filter((v) => envValue(env, v));
}
