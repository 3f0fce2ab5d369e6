import { Command } from 'commander';
import { CliContext } from './context.js';
import type { Column } from './output.js';

export interface ResourceSpec<T> {
  command: string;
  kind: string;
  path: string;
  description: string;
  columns: Column<T>[];
  /** Arguments and options of `create`, and how they become the request body. */
  create?: {
    args?: string;
    options: [flags: string, description: string, parse?: (v: string) => unknown][];
    body: (args: string[], opts: Record<string, unknown>, ctx: CliContext) => Promise<unknown> | unknown;
  };
}

/** create|list|show|delete for a tenant resource, acting as the tenant key or for --tenant. */
export function resourceCommand<T extends { id: string }>(spec: ResourceSpec<T>): Command {
  const cmd = new Command(spec.command).description(spec.description);
  if (spec.create) {
    const create = spec.create;
    const c = cmd.command(`create${create.args ? ` ${create.args}` : ''}`).description(`create a ${spec.kind}`);
    for (const [flags, description, parse] of create.options) {
      if (parse) c.option(flags, description, parse as (v: string) => unknown);
      else c.option(flags, description);
    }
    c.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const opts = params[params.length - 2] as Record<string, unknown>;
      const args = params.slice(0, -2) as string[];
      const ctx = CliContext.from(command);
      const client = await ctx.tenantClient();
      ctx.print(await client.request<T>('POST', spec.path, await create.body(args, opts, ctx)), spec.columns);
    });
  }
  cmd
    .command('list')
    .description(`list ${spec.kind}s`)
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      ctx.print(await (await ctx.tenantClient()).listAll<T>(spec.path), spec.columns);
    });
  cmd
    .command('show <idOrName>')
    .description(`show a ${spec.kind}`)
    .action(async (idOrName: string, _o, command: Command) => {
      const ctx = CliContext.from(command);
      const client = await ctx.tenantClient();
      const id = await ctx.resourceId(client, spec.path, idOrName, spec.kind);
      ctx.print(await client.request<T>('GET', `${spec.path}/${id}`), spec.columns);
    });
  cmd
    .command('delete <idOrName>')
    .description(`delete a ${spec.kind}`)
    .action(async (idOrName: string, _o, command: Command) => {
      const ctx = CliContext.from(command);
      const client = await ctx.tenantClient();
      const id = await ctx.resourceId(client, spec.path, idOrName, spec.kind);
      await client.request('DELETE', `${spec.path}/${id}`);
      process.stdout.write(`${spec.kind} ${idOrName} deleted\n`);
    });
  return cmd;
}
