import { Command, Option } from 'commander';
import { type ApiClient, ApiError, dataOf } from './api-client.js';
import { CliContext, surroundings } from './context.js';
import { waitOption } from './events.js';
import { watchRows } from './watch.js';
import type { Column } from './output.js';

/** An option of `create`: commander's own, or its flags, description and parser. */
export type CreateOption = Option | [flags: string, description: string, parse?: (v: string) => unknown];

export interface ResourceSpec<T, O> {
  command: string;
  kind: string;
  /** Its list, where `<idOrName>` is looked up; `DELETE <path>/{id}` deletes one. */
  path: '/v1/clusters' | '/v1/vpcs' | '/v1/storage-pools' | '/v1/floating-ips';
  description: string;
  columns: Column<T>[];
  /** Every one of them (each page). */
  list: (client: ApiClient) => Promise<T[]>;
  /** One of them by id. */
  get: (client: ApiClient, id: string) => Promise<T>;
  /** Arguments and options of `create`, and the request they make. */
  create?: {
    args?: string;
    options: CreateOption[];
    send: (client: ApiClient, args: string[], opts: O, ctx: CliContext) => Promise<T>;
    /** With `--wait`: waits until what was created is ready, and answers it as it is then. */
    wait?: { description: string; until: (client: ApiClient, created: T, seconds: number) => Promise<T> };
  };
  /**
   * For a resource whose deletion goes on after the API accepts it (202): `delete` says so, and
   * with `--wait` waits until it is gone.
   */
  deleteWait?: (client: ApiClient, id: string, idOrName: string, seconds: number) => Promise<void>;
  /** `list --watch` and `show --watch`, woken by the event stream (of cluster events: clusters only). */
  watch?: boolean;
}

/** How long a `--wait` without a number of seconds waits. */
export const WAIT_SECONDS = 1800;

/** create|list|show|delete for a tenant resource, acting as the tenant key or for --tenant. */
export function resourceCommand<T extends { id: string }, O = Record<string, never>>(
  spec: ResourceSpec<T, O>,
): Command {
  const cmd = new Command(spec.command).description(spec.description);
  if (spec.create) {
    const create = spec.create;
    const c = cmd.command(`create${create.args ? ` ${create.args}` : ''}`).description(`create a ${spec.kind}`);
    for (const option of create.options) {
      if (option instanceof Option) c.addOption(option);
      else if (option[2]) c.option(option[0], option[1], option[2]);
      else c.option(option[0], option[1]);
    }
    if (create.wait) c.addOption(waitOption(create.wait.description, WAIT_SECONDS));
    c.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const opts = params[params.length - 2] as O & { wait?: number };
      const args = params.slice(0, -2) as string[];
      const ctx = CliContext.from(command);
      const client = await ctx.tenantClient();
      const created = await create.send(client, args, opts, ctx);
      const seconds = opts.wait;
      ctx.print(
        create.wait && seconds !== undefined ? await create.wait.until(client, created, seconds) : created,
        spec.columns,
      );
    });
  }
  const list = cmd.command('list').description(`list ${spec.kind}s`);
  if (spec.watch) list.option('-w, --watch', `after the list, print each ${spec.kind} again when it changes`);
  list.action(async (o: { watch?: boolean }, command: Command) => {
    const ctx = CliContext.from(command);
    const client = await ctx.tenantClient();
    if (!o.watch) return ctx.print(await spec.list(client), spec.columns);
    await watchRows(client, {
      fetch: () => spec.list(client),
      key: (row) => row.id,
      columns: spec.columns,
      format: ctx.options.output,
      signal: surroundings(command).signal,
    });
  });
  const show = cmd.command('show <idOrName>').description(`show a ${spec.kind}`);
  if (spec.watch) show.option('-w, --watch', `print the ${spec.kind} again each time it changes, until it is gone`);
  show.action(async (idOrName: string, o: { watch?: boolean }, command: Command) => {
    const ctx = CliContext.from(command);
    const client = await ctx.tenantClient();
    const id = await ctx.resourceId(client, spec.path, idOrName, spec.kind);
    if (!o.watch) return ctx.print(await spec.get(client, id), spec.columns);
    await watchRows(client, {
      clusterId: id,
      fetch: async () => {
        try {
          return [await spec.get(client, id)];
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) return null;
          throw err;
        }
      },
      key: (row) => row.id,
      columns: spec.columns,
      format: ctx.options.output,
      signal: surroundings(command).signal,
    });
  });
  const del = cmd.command('delete <idOrName>').description(`delete a ${spec.kind}`);
  const deleteWait = spec.deleteWait;
  if (deleteWait) del.addOption(waitOption(`wait until the ${spec.kind} is gone`, WAIT_SECONDS));
  del.action(async (idOrName: string, o: { wait?: number }, command: Command) => {
    const ctx = CliContext.from(command);
    const client = await ctx.tenantClient();
    const id = await ctx.resourceId(client, spec.path, idOrName, spec.kind);
    await dataOf(client.api.DELETE(`${spec.path}/{id}` as const, { params: { path: { id } } }));
    if (!deleteWait) {
      process.stdout.write(`${spec.kind} ${idOrName} deleted\n`);
    } else if (o.wait === undefined) {
      process.stdout.write(
        `${spec.kind} ${idOrName}: deletion accepted; it is listed until it is gone (--wait waits for that)\n`,
      );
    } else {
      await deleteWait(client, id, idOrName, o.wait);
      process.stdout.write(`${spec.kind} ${idOrName} deleted\n`);
    }
  });
  return cmd;
}
