import type { Command } from 'commander';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';
import { resourceCommand } from './resource-commands.js';

interface StoragePool {
  id: string;
  name: string;
  capacityGiB: number;
  allocatedGiB: number;
  state: string;
}

interface Vpc {
  id: string;
  name: string;
  cidr: string;
  gateway: string;
  state: string;
}

interface FloatingIp {
  id: string;
  address: string;
  clusterId: string | null;
}

interface FloatingIpRange {
  id: string;
  cidr: string | null;
  start: string;
  end: string;
  total: number;
  used: number;
  free: number;
}

const floatingIpColumns: Column<FloatingIp>[] = [
  { header: 'ID', value: (f) => f.id },
  { header: 'ADDRESS', value: (f) => f.address },
  { header: 'CLUSTER', value: (f) => f.clusterId },
];

/** PATCH /v1/floating-ips/:id: the address becomes `clusterId`'s endpoint, or no cluster's (null). */
async function setFloatingIpCluster(command: Command, idOrAddress: string, cluster: string | null): Promise<void> {
  const ctx = CliContext.from(command);
  const client = await ctx.tenantClient();
  const id = await ctx.resourceId(client, '/v1/floating-ips', idOrAddress, 'floating IP');
  const clusterId = cluster === null ? null : await ctx.resourceId(client, '/v1/clusters', cluster, 'cluster');
  ctx.print(await client.request<FloatingIp>('PATCH', `/v1/floating-ips/${id}`, { clusterId }), floatingIpColumns);
}

function floatingIpCommand(): Command {
  const cmd = resourceCommand<FloatingIp>({
    command: 'floating-ips',
    kind: 'floating IP',
    path: '/v1/floating-ips',
    description: 'floating IPs (tenant), and their ranges (operator: add-range, ranges)',
    columns: floatingIpColumns,
    create: { options: [], body: () => ({}) },
  });
  cmd
    .command('associate <idOrAddress>')
    .description("make the address a cluster's endpoint (the cluster must have none)")
    .requiredOption('--cluster <idOrName>', 'the cluster')
    .action(async (idOrAddress: string, o: { cluster: string }, command: Command) => {
      await setFloatingIpCluster(command, idOrAddress, o.cluster);
    });
  cmd
    .command('disassociate <idOrAddress>')
    .description('release the address from its cluster, which is left without an endpoint')
    .action(async (idOrAddress: string, _o, command: Command) => {
      await setFloatingIpCluster(command, idOrAddress, null);
    });
  const rangeColumns: Column<FloatingIpRange>[] = [
    { header: 'ID', value: (r) => r.id },
    { header: 'RANGE', value: (r) => r.cidr ?? `${r.start}-${r.end}` },
    { header: 'FIRST', value: (r) => r.start },
    { header: 'LAST', value: (r) => r.end },
    { header: 'USED', value: (r) => r.used },
    { header: 'FREE', value: (r) => r.free },
  ];
  cmd
    .command('add-range <cidrOrStart> [end]')
    .description('operator: add addresses tenants can allocate (10.250.0.0/24, or 10.250.0.10 10.250.0.99)')
    .action(async (first: string, end: string | undefined, _o, command: Command) => {
      const ctx = CliContext.from(command);
      const body = end === undefined ? { cidr: first } : { start: first, end };
      ctx.print(await ctx.client.request<FloatingIpRange>('POST', '/v1/floating-ip-ranges', body), rangeColumns);
    });
  cmd
    .command('ranges')
    .description('operator: list ranges with used and free counts')
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      const res = await ctx.client.request<{ items: FloatingIpRange[] }>('GET', '/v1/floating-ip-ranges');
      ctx.print(res.items, rangeColumns);
    });
  cmd
    .command('remove-range <id>')
    .description('operator: remove an unused range')
    .action(async (id: string, _o, command: Command) => {
      await CliContext.from(command).client.request('DELETE', `/v1/floating-ip-ranges/${id}`);
      process.stdout.write(`range ${id} removed\n`);
    });
  return cmd;
}

export function tenantResourceCommands(): Command[] {
  return [
    resourceCommand<Vpc>({
      command: 'vpcs',
      kind: 'VPC',
      path: '/v1/vpcs',
      description: 'VPCs: isolated networks with their own CIDR',
      columns: [
        { header: 'ID', value: (v) => v.id },
        { header: 'NAME', value: (v) => v.name },
        { header: 'CIDR', value: (v) => v.cidr },
        { header: 'GATEWAY', value: (v) => v.gateway },
        { header: 'STATE', value: (v) => v.state },
      ],
      create: {
        args: '<name>',
        options: [['--cidr <cidr>', 'IPv4 CIDR, /16 to /28, private range']],
        body: ([name], opts) => ({ name, cidr: opts.cidr }),
      },
    }),
    floatingIpCommand(),
    resourceCommand<StoragePool>({
      command: 'storage-pools',
      kind: 'storage pool',
      path: '/v1/storage-pools',
      description: 'storage pools (as a tenant key, or for --tenant as the operator)',
      columns: [
        { header: 'ID', value: (p) => p.id },
        { header: 'NAME', value: (p) => p.name },
        { header: 'CAPACITY GiB', value: (p) => p.capacityGiB },
        { header: 'ALLOCATED GiB', value: (p) => p.allocatedGiB },
        { header: 'STATE', value: (p) => p.state },
      ],
      create: {
        args: '<name>',
        options: [['--capacity-gib <n>', 'capacity in GiB', intOption('capacity-gib')]],
        body: ([name], opts) => ({ name, capacityGiB: opts.capacityGib }),
      },
    }),
  ];
}
