import { type Command, Option } from 'commander';
import type { Schemas } from '../api/client.js';
import { dataOf, listAll } from './api-client.js';
import { CliContext, intOption } from './context.js';
import { ageColumn, type Column, idColumn } from './output.js';
import { resourceCommand } from './resource-commands.js';

type FloatingIp = Schemas['FloatingIpResponse'];
type FloatingIpRange = Schemas['FloatingIpRangeResponse'];

const floatingIpColumns: Column<FloatingIp>[] = [
  { header: 'ADDRESS', value: (f) => f.address },
  { header: 'CLUSTER', value: (f) => f.clusterId },
  ageColumn(),
  idColumn(),
];

/** PATCH /v1/floating-ips/:id: the address becomes `clusterId`'s endpoint, or no cluster's (null). */
async function setFloatingIpCluster(command: Command, idOrAddress: string, cluster: string | null): Promise<void> {
  const ctx = CliContext.from(command);
  const client = await ctx.tenantClient();
  const id = await ctx.resourceId(client, '/v1/floating-ips', idOrAddress, 'floating IP');
  const clusterId = cluster === null ? null : await ctx.resourceId(client, '/v1/clusters', cluster, 'cluster');
  ctx.print(
    await dataOf(client.api.PATCH('/v1/floating-ips/{id}', { params: { path: { id } }, body: { clusterId } })),
    floatingIpColumns,
  );
}

function floatingIpCommand(): Command {
  const cmd = resourceCommand<FloatingIp>({
    command: 'floating-ips',
    kind: 'floating IP',
    path: '/v1/floating-ips',
    description: 'floating IPs (tenant), and their ranges (operator: add-range, ranges)',
    columns: floatingIpColumns,
    list: (client) => listAll((query) => client.api.GET('/v1/floating-ips', { params: { query } })),
    get: (client, id) => dataOf(client.api.GET('/v1/floating-ips/{id}', { params: { path: { id } } })),
    create: { options: [], send: (client) => dataOf(client.api.POST('/v1/floating-ips', { body: {} })) },
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
      ctx.print(await dataOf(ctx.client.api.POST('/v1/floating-ip-ranges', { body })), rangeColumns);
    });
  cmd
    .command('ranges')
    .description('operator: list ranges with used and free counts')
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      ctx.print((await dataOf(ctx.client.api.GET('/v1/floating-ip-ranges'))).items, rangeColumns);
    });
  cmd
    .command('remove-range <id>')
    .description('operator: remove an unused range')
    .action(async (id: string, _o, command: Command) => {
      const { client } = CliContext.from(command);
      await dataOf(client.api.DELETE('/v1/floating-ip-ranges/{id}', { params: { path: { id } } }));
      process.stdout.write(`range ${id} removed\n`);
    });
  return cmd;
}

export function tenantResourceCommands(): Command[] {
  return [
    resourceCommand<Schemas['VpcResponse'], { cidr: string }>({
      command: 'vpcs',
      kind: 'VPC',
      path: '/v1/vpcs',
      description: 'VPCs: isolated networks with their own CIDR',
      list: (client) => listAll((query) => client.api.GET('/v1/vpcs', { params: { query } })),
      get: (client, id) => dataOf(client.api.GET('/v1/vpcs/{id}', { params: { path: { id } } })),
      columns: [
        { header: 'NAME', value: (v) => v.name },
        { header: 'CIDR', value: (v) => v.cidr },
        { header: 'STATE', value: (v) => v.state },
        ageColumn(),
        { header: 'GATEWAY', value: (v) => v.gateway, wide: true },
        idColumn(),
      ],
      create: {
        args: '<name>',
        options: [new Option('--cidr <cidr>', 'IPv4 CIDR, /16 to /28, private range').makeOptionMandatory()],
        send: (client, [name], o) => dataOf(client.api.POST('/v1/vpcs', { body: { name, cidr: o.cidr } })),
      },
    }),
    floatingIpCommand(),
    resourceCommand<Schemas['StoragePoolResponse'], { capacityGib: number }>({
      command: 'storage-pools',
      kind: 'storage pool',
      path: '/v1/storage-pools',
      description: 'storage pools (as a tenant key, or for --tenant as the operator)',
      list: (client) => listAll((query) => client.api.GET('/v1/storage-pools', { params: { query } })),
      get: (client, id) => dataOf(client.api.GET('/v1/storage-pools/{id}', { params: { path: { id } } })),
      columns: [
        { header: 'NAME', value: (p) => p.name },
        { header: 'CAPACITY GiB', value: (p) => p.capacityGiB },
        { header: 'ALLOCATED GiB', value: (p) => p.allocatedGiB },
        { header: 'STATE', value: (p) => p.state },
        ageColumn(),
        idColumn(),
      ],
      create: {
        args: '<name>',
        options: [
          new Option('--capacity-gib <n>', 'capacity in GiB')
            .argParser(intOption('capacity-gib'))
            .makeOptionMandatory(),
        ],
        send: (client, [name], o) =>
          dataOf(client.api.POST('/v1/storage-pools', { body: { name, capacityGiB: o.capacityGib } })),
      },
    }),
  ];
}
