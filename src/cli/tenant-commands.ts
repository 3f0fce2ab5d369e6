import { Command } from 'commander';
import type { Schemas } from '../api/client.js';
import { dataOf, listAll } from './api-client.js';
import { CliContext, intOption } from './context.js';
import { ageColumn, type Column, idColumn } from './output.js';

type Tenant = Schemas['TenantResponse'];
type Quota = Schemas['SetQuotaRequest'];

const tenantColumns: Column<Tenant>[] = [
  { header: 'NAME', value: (t) => t.name },
  { header: 'CLUSTERS', value: (t) => `${t.usage.clusters}/${t.quota.maxClusters}` },
  { header: 'NODES', value: (t) => `${t.usage.nodes}/${t.quota.maxNodes}` },
  { header: 'VCPUS', value: (t) => `${t.usage.vcpus}/${t.quota.maxVcpus}` },
  { header: 'MEMORY MiB', value: (t) => `${t.usage.memoryMiB}/${t.quota.maxMemoryMiB}` },
  { header: 'STORAGE GiB', value: (t) => `${t.usage.storageGiB}/${t.quota.maxStorageGiB}` },
  { header: 'FLOATING IPS', value: (t) => `${t.usage.floatingIps}/${t.quota.maxFloatingIps}` },
  ageColumn(),
  idColumn(),
];

const QUOTA_FLAGS: [string, keyof Quota][] = [
  ['max-clusters', 'maxClusters'],
  ['max-nodes', 'maxNodes'],
  ['max-vcpus', 'maxVcpus'],
  ['max-memory-mib', 'maxMemoryMiB'],
  ['max-storage-gib', 'maxStorageGiB'],
  ['max-floating-ips', 'maxFloatingIps'],
];

const getTenant = (ctx: CliContext, id: string): Promise<Tenant> =>
  dataOf(ctx.client.api.GET('/v1/tenants/{id}', { params: { path: { id } } }));

export function tenantCommands(): Command[] {
  const tenants = new Command('tenants').description('tenants and their quotas (operator)');
  tenants
    .command('create <name>')
    .description('create a tenant; prints its first API key once')
    .action(async (name: string, _o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const t = await dataOf(ctx.client.api.POST('/v1/tenants', { body: { name } }));
      ctx.print(t, [
        { header: 'ID', value: (r) => r.id },
        { header: 'NAME', value: (r) => r.name },
        { header: 'API KEY (shown once)', value: (r) => r.apiKey },
      ]);
    });
  tenants
    .command('list')
    .description('list tenants with usage/quota')
    .action(async (_o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const { client } = ctx;
      ctx.print(await listAll((query) => client.api.GET('/v1/tenants', { params: { query } })), tenantColumns);
    });
  tenants
    .command('show <tenant>')
    .description('show one tenant (id or name)')
    .action(async (tenant: string, _o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      ctx.print(await getTenant(ctx, await ctx.tenantId(tenant)), tenantColumns);
    });
  const quota = tenants.command('quota').description("a tenant's quota");
  const set = quota.command('set <tenant>').description('set quota values; flags not given keep their current value');
  for (const [flag] of QUOTA_FLAGS) set.option(`--${flag} <n>`, flag.replace(/-/g, ' '), intOption(flag));
  set.action(async (tenant: string, opts: Record<string, number>, cmd: Command) => {
    const ctx = CliContext.from(cmd);
    const id = await ctx.tenantId(tenant);
    const current = await getTenant(ctx, id);
    const body: Quota = { ...current.quota };
    for (const [flag, key] of QUOTA_FLAGS) {
      const camel = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (opts[camel] !== undefined) body[key] = opts[camel];
    }
    ctx.print(
      await dataOf(ctx.client.api.PUT('/v1/tenants/{id}/quota', { params: { path: { id } }, body })),
      tenantColumns,
    );
  });

  const keys = new Command('api-keys').description("tenants' API keys (operator)");
  keys
    .command('create')
    .description('create an API key for a tenant (--tenant); prints it once')
    .option('--description <text>', 'what the key is for')
    .action(async (opts: { description?: string }, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const id = await ctx.tenantId(ctx.requireTenant());
      const key = await dataOf(
        ctx.client.api.POST('/v1/tenants/{id}/api-keys', {
          params: { path: { id } },
          body: opts.description ? { description: opts.description } : {},
        }),
      );
      ctx.print(key, [
        { header: 'ID', value: (r) => r.id },
        { header: 'API KEY (shown once)', value: (r) => r.apiKey },
      ]);
    });
  keys
    .command('list')
    .description("list a tenant's keys (--tenant)")
    .action(async (_o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const id = await ctx.tenantId(ctx.requireTenant());
      const res = await dataOf(ctx.client.api.GET('/v1/tenants/{id}/api-keys', { params: { path: { id } } }));
      ctx.print(res.items, [
        { header: 'ID', value: (k) => k.id },
        { header: 'PREFIX', value: (k) => k.prefix },
        { header: 'DESCRIPTION', value: (k) => k.description },
        { header: 'CREATED', value: (k) => k.createdAt },
        { header: 'REVOKED', value: (k) => k.revokedAt },
      ]);
    });
  keys
    .command('revoke <keyId>')
    .description('revoke a key at once (--tenant)')
    .action(async (keyId: string, _o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const id = await ctx.tenantId(ctx.requireTenant());
      await dataOf(ctx.client.api.DELETE('/v1/tenants/{id}/api-keys/{keyId}', { params: { path: { id, keyId } } }));
      process.stdout.write(`api key ${keyId} revoked\n`);
    });

  const tokens = new Command('admin-tokens').description('further operator tokens, stored hashed');
  tokens
    .command('create')
    .description('make another operator token, shown once (the platform keeps its hash)')
    .option('--description <text>', 'what or whom the token is for')
    .action(async (opts: { description?: string }, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const t = await dataOf(
        ctx.client.api.POST('/v1/admin-tokens', { body: opts.description ? { description: opts.description } : {} }),
      );
      ctx.print(t, [
        { header: 'ID', value: (r) => r.id },
        { header: 'TOKEN (shown once)', value: (r) => r.apiKey },
      ]);
    });
  tokens
    .command('revoke <id>')
    .description('revoke an operator token made with admin-tokens create')
    .action(async (id: string, _o, cmd: Command) => {
      const { client } = CliContext.from(cmd);
      await dataOf(client.api.DELETE('/v1/admin-tokens/{id}', { params: { path: { id } } }));
      process.stdout.write(`admin token ${id} revoked\n`);
    });
  return [tenants, keys, tokens];
}
