import type { Command } from 'commander';
import { ApiClient } from './api-client.js';
import { type Format, render, type Column } from './output.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface GlobalOptions {
  url: string;
  token?: string;
  output: Format;
  tenant?: string;
}

/** What every command needs: the client, the output format, and lookups by name. */
export class CliContext {
  constructor(readonly options: GlobalOptions) {}

  static from(cmd: Command): CliContext {
    return new CliContext(cmd.optsWithGlobals<GlobalOptions>());
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
    if (!this.options.tenant) throw new Error('this command needs --tenant <id or name>');
    return this.options.tenant;
  }

  async tenantId(idOrName: string): Promise<string> {
    if (UUID.test(idOrName)) return idOrName;
    const tenants = await this.client.listAll<{ id: string; name: string }>('/v1/tenants');
    const found = tenants.find((t) => t.name === idOrName);
    if (!found) throw new Error(`no tenant named "${idOrName}"`);
    return found.id;
  }

  /** Resolves a tenant resource given by id or name. */
  async resourceId(client: ApiClient, path: string, idOrName: string, kind: string): Promise<string> {
    if (UUID.test(idOrName)) return idOrName;
    const items = await client.listAll<{ id: string; name?: string; address?: string }>(path);
    const found = items.find((i) => i.name === idOrName || i.address === idOrName);
    if (!found) throw new Error(`no ${kind} named "${idOrName}"`);
    return found.id;
  }

  print<T>(rows: T[] | T, columns: Column<T>[]): void {
    process.stdout.write(`${render(rows, columns, this.options.output)}\n`);
  }
}

/** Parses a whole-number option or stops with a message naming it. */
export function intOption(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
    return Number(value);
  };
}
