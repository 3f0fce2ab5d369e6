import { Command } from 'commander';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';

interface Tenant {
  id: string;
  name: string;
  quota: Record<string, number>;
  usage: Record<string, number>;
  createdAt: string;
}

const tenantColumns: Column<Tenant>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'NAME', value: (t) => t.name },
  { header: 'CLUSTERS', value: (t) => `${t.usage.clusters}/${t.quota.maxClusters}` },
  { header: 'NODES', value: (t) => `${t.usage.nodes}/${t.quota.maxNodes}` },
  { header: 'VCPUS', value: (t) => `${t.usage.vcpus}/${t.quota.maxVcpus}` },
  { header: 'MEMORY MiB', value: (t) => `${t.usage.memoryMiB}/${t.quota.maxMemoryMiB}` },
  { header: 'STORAGE GiB', value: (t) => `${t.usage.storageGiB}/${t.quota.maxStorageGiB}` },
  { header: 'FLOATING IPS', value: (t) => `${t.usage.floatingIps}/${t.quota.maxFloatingIps}` },
];

const QUOTA_FLAGS: [string, string][] = [
  ['max-clusters', 'maxClusters'],
  ['max-nodes', 'maxNodes'],
  ['max-vcpus', 'maxVcpus'],
  ['max-memory-mib', 'maxMemoryMiB'],
  ['max-storage-gib', 'maxStorageGiB'],
  ['max-floating-ips', 'maxFloatingIps'],
];

export function tenantCommands(): Command[] {
  const tenants = new Command('tenants').description('tenants and their quotas (operator)');
  tenants
    .command('create <name>')
    .description('create a tenant; prints its first API key once')
    .action(async (name: string, _o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const t = await ctx.client.request('POST', '/v1/tenants', { name });
      ctx.print(t, [
        { header: 'ID', value: (r: typeof t) => r.id },
        { header: 'NAME', value: (r: typeof t) => r.name },
        { header: 'API KEY (shown once)', value: (r: typeof t) => r.apiKey },
      ]);
    });
  tenants
    .command('list')
    .description('list tenants with usage/quota')
    .action(async (_o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      ctx.print(await ctx.client.listAll<Tenant>('/v1/tenants'), tenantColumns);
    });
  tenants
    .command('show <tenant>')
    .description('show one tenant (id or name)')
    .action(async (tenant: string, _o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      ctx.print(await ctx.client.request<Tenant>('GET', `/v1/tenants/${await ctx.tenantId(tenant)}`), tenantColumns);
    });
  const quota = tenants.command('quota').description("a tenant's quota");
  const set = quota.command('set <tenant>').description('set quota values; flags not given keep their current value');
  for (const [flag] of QUOTA_FLAGS) set.option(`--${flag} <n>`, flag.replace(/-/g, ' '), intOption(flag));
  set.action(async (tenant: string, opts: Record<string, number>, cmd: Command) => {
    const ctx = CliContext.from(cmd);
    const id = await ctx.tenantId(tenant);
    const current = await ctx.client.request<Tenant>('GET', `/v1/tenants/${id}`);
    const body = { ...current.quota };
    for (const [flag, key] of QUOTA_FLAGS) {
      const camel = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (opts[camel] !== undefined) body[key] = opts[camel];
    }
    ctx.print(await ctx.client.request<Tenant>('PUT', `/v1/tenants/${id}/quota`, body), tenantColumns);
  });

  const keys = new Command('api-keys').description("tenants' API keys (operator)");
  keys
    .command('create')
    .description('create an API key for a tenant (--tenant); prints it once')
    .option('--description <text>', 'what the key is for')
    .action(async (opts: { description?: string }, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const id = await ctx.tenantId(ctx.requireTenant());
      const key = await ctx.client.request(
        'POST',
        `/v1/tenants/${id}/api-keys`,
        opts.description ? { description: opts.description } : {},
      );
      ctx.print(key, [
        { header: 'ID', value: (r: typeof key) => r.id },
        { header: 'API KEY (shown once)', value: (r: typeof key) => r.apiKey },
      ]);
    });
  keys
    .command('list')
    .description("list a tenant's keys (--tenant)")
    .action(async (_o, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const id = await ctx.tenantId(ctx.requireTenant());
      const res = await ctx.client.request<{
        items: {
          id: string;
          prefix: string;
          description: string | null;
          createdAt: string;
          revokedAt: string | null;
        }[];
      }>('GET', `/v1/tenants/${id}/api-keys`);
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
      await ctx.client.request('DELETE', `/v1/tenants/${await ctx.tenantId(ctx.requireTenant())}/api-keys/${keyId}`);
      process.stdout.write(`api key ${keyId} revoked\n`);
    });

  const tokens = new Command('admin-tokens').description('further operator tokens, stored hashed');
  tokens
    .command('create')
    .option('--description <text>')
    .action(async (opts: { description?: string }, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const t = await ctx.client.request(
        'POST',
        '/v1/admin-tokens',
        opts.description ? { description: opts.description } : {},
      );
      ctx.print(t, [
        { header: 'ID', value: (r: typeof t) => r.id },
        { header: 'TOKEN (shown once)', value: (r: typeof t) => r.apiKey },
      ]);
    });
  tokens.command('revoke <id>').action(async (id: string, _o, cmd: Command) => {
    await CliContext.from(cmd).client.request('DELETE', `/v1/admin-tokens/${id}`);
    process.stdout.write(`admin token ${id} revoked\n`);
  });
  return [tenants, keys, tokens];
}
