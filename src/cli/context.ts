import { type Command, InvalidArgumentError } from 'commander';
import { ApiClient, listAll } from './api-client.js';
import { type ConnectionFlags, resolveConnection } from './connection.js';
import { type Format, render, type Column } from './output.js';
import { UsageError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface GlobalOptions {
  url: string;
  token?: string;
  output: Format;
  tenant?: string;
}

/** The lists whose items an argument may name: by name, or by address (floating IPs). */
export type NamedList = '/v1/clusters' | '/v1/vpcs' | '/v1/storage-pools' | '/v1/floating-ips' | '/v1/tenants';

/** What a lookup by name reads of an item of a NamedList. */
type Named = { id: string; name?: string; address?: string };

/** The global flags as given on the command line, before the environment and the config fill them in. */
export type GlobalFlags = ConnectionFlags & { output: Format };

/** A readable stream that may be a terminal: where `login` reads a token. */
export type TokenInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** What kaasctl takes from the process it runs in; a test gives its own. */
export interface Surroundings {
  env: NodeJS.ProcessEnv;
  /** process.stdin when not given, touched only by a command that reads it. */
  stdin?: TokenInput;
  /** Ends `--watch` (which otherwise runs until the process is interrupted). */
  signal?: AbortSignal;
}

const surroundingsOf = new WeakMap<Command, Surroundings>();

export function setSurroundings(program: Command, surroundings: Surroundings): void {
  surroundingsOf.set(program, surroundings);
}

/** The surroundings given to the program a command belongs to. */
export function surroundings(cmd: Command): Surroundings {
  let root = cmd;
  while (root.parent) root = root.parent;
  return surroundingsOf.get(root) ?? { env: process.env };
}

/** What every command needs: the client, the output format, and lookups by name. */
export class CliContext {
  constructor(readonly options: GlobalOptions) {}

  /** Server, token and tenant from flags, then the environment, then the context (connection.ts). */
  static from(cmd: Command): CliContext {
    const flags = cmd.optsWithGlobals<GlobalFlags>();
    return new CliContext({ ...resolveConnection(flags, surroundings(cmd).env), output: flags.output });
  }

  get client(): ApiClient {
    return new ApiClient({ url: this.options.url, token: this.options.token });
  }

  /** The client acting for --tenant (operator) or as the tenant key itself. */
  async tenantClient(): Promise<ApiClient> {
    if (!this.options.tenant) return this.client;
    return this.client.withTenant(await this.tenantId(this.options.tenant));
  }

  requireTenant(): string {
    if (!this.options.tenant) {
      throw new UsageError(
        'this command needs a tenant: --tenant <id or name>, KAAS_TENANT, or a context with a tenant',
      );
    }
    return this.options.tenant;
  }

  async tenantId(idOrName: string): Promise<string> {
    return this.resourceId(this.client, '/v1/tenants', idOrName, 'tenant');
  }

  /** Resolves a resource given by id, or by name (or address) in the list `path`. */
  async resourceId(client: ApiClient, path: NamedList, idOrName: string, kind: string): Promise<string> {
    if (UUID.test(idOrName)) return idOrName;
    const items = await listAll<Named>((query) => client.api.GET(path, { params: { query } }));
    const found = items.find((i) => i.name === idOrName || i.address === idOrName);
    if (!found) throw new Error(`no ${kind} named "${idOrName}"`);
    return found.id;
  }

  print<T>(rows: T[] | T, columns: Column<T>[]): void {
    const text = render(rows, columns, this.options.output);
    // An empty list in `-o name` is no output at all, so that `| xargs` gets nothing.
    if (text) process.stdout.write(`${text}\n`);
  }
}

/** Parses a whole-number option or stops with a message naming it. */
export function intOption(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`--${name} must be a whole number, got "${value}"`);
    return Number(value);
  };
}
