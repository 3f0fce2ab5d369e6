import { Command, Option } from 'commander';
import type { Schemas } from '../api/client.js';
import { dataOf } from './api-client.js';
import { CliContext, intOption } from './context.js';
import { UsageError } from './errors.js';
import { ageColumn, type Column, idColumn } from './output.js';

type Host = Schemas['HostResponse'];
type Fault = Schemas['HostFaultRequest']['fault'];

const DOMAIN_TYPES: Host['domainType'][] = ['kvm', 'qemu'];
const FAULTS: readonly Fault[] = ['crash', 'hang', 'unready', 'cpu-load', 'unreachable', 'reachable'];

const hostColumns: Column<Host>[] = [
  { header: 'NAME', value: (h) => h.name },
  { header: 'STATE', value: (h) => h.state },
  { header: 'VCPUS', value: (h) => `${h.allocated.vcpus}/${h.capacity.cpus}` },
  { header: 'MEMORY MiB', value: (h) => `${h.allocated.memoryMiB}/${h.capacity.memoryMiB}` },
  { header: 'NODES', value: (h) => h.allocated.nodes },
  ageColumn(),
  { header: 'URI', value: (h) => `${h.uri}${h.simulated ? ' (simulated)' : ''}`, wide: true },
  { header: 'TYPE', value: (h) => h.domainType, wide: true },
  idColumn(),
];

const imageColumns: Column<Schemas['ImageResponse']>[] = [
  { header: 'NAME', value: (i) => i.name },
  { header: 'KIND', value: (i) => i.kind },
  { header: 'DEFAULT', value: (i) => i.isDefault },
  ageColumn(),
  idColumn(),
];

const listHosts = async (ctx: CliContext): Promise<Host[]> => (await dataOf(ctx.client.api.GET('/v1/hosts'))).items;

async function hostId(ctx: CliContext, idOrName: string): Promise<string> {
  const found = (await listHosts(ctx)).find((h) => h.id === idOrName || h.name === idOrName);
  if (!found) throw new Error(`no host named "${idOrName}"`);
  return found.id;
}

export function hostCommands(): Command[] {
  const hosts = new Command('hosts').description('hypervisor hosts (operator)');
  hosts
    .command('add <name> <uri>')
    .description(
      'register a libvirt host: qemu:///system, qemu+ssh://user@host/system, test:///... or test+unix:///default?socket=... (simulated)',
    )
    .addOption(
      new Option('--domain-type <type>', 'kvm (production) or qemu (no hardware virtualisation)')
        .choices(DOMAIN_TYPES)
        .default('kvm'),
    )
    .option('--cpus <n>', 'override the CPU count', intOption('cpus'))
    .option('--memory-mib <n>', 'override the memory', intOption('memory-mib'))
    .option('--chassis <name>', "its Open vSwitch system-id, when it is not the host's name")
    .option('--disk-gib <n>', "disk for nodes' volumes (default: measured from the host)", intOption('disk-gib'))
    .action(
      async (
        name: string,
        uri: string,
        o: { domainType: Host['domainType']; cpus?: number; memoryMib?: number; chassis?: string; diskGib?: number },
        command: Command,
      ) => {
        const ctx = CliContext.from(command);
        const body = {
          name,
          uri,
          domainType: o.domainType,
          ...(o.cpus ? { cpus: o.cpus } : {}),
          ...(o.memoryMib ? { memoryMiB: o.memoryMib } : {}),
          ...(o.chassis ? { chassis: o.chassis } : {}),
          ...(o.diskGib ? { diskGiB: o.diskGib } : {}),
        };
        ctx.print(await dataOf(ctx.client.api.POST('/v1/hosts', { body })), hostColumns);
      },
    );
  hosts
    .command('list')
    .description('list hypervisor hosts with their state and what is allocated on them')
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      ctx.print(await listHosts(ctx), hostColumns);
    });
  hosts
    .command('show <host>')
    .description('show a host (by name or id)')
    .action(async (h: string, _o, command: Command) => {
      const ctx = CliContext.from(command);
      const id = await hostId(ctx, h);
      ctx.print(await dataOf(ctx.client.api.GET('/v1/hosts/{id}', { params: { path: { id } } })), hostColumns);
    });
  hosts
    .command('remove <host>')
    .description('remove a host that runs no node (drain it first)')
    .action(async (h: string, _o, command: Command) => {
      const ctx = CliContext.from(command);
      const id = await hostId(ctx, h);
      await dataOf(ctx.client.api.DELETE('/v1/hosts/{id}', { params: { path: { id } } }));
      process.stdout.write(`host ${h} removed\n`);
    });
  for (const verb of ['drain', 'undrain'] as const) {
    hosts
      .command(`${verb} <host>`)
      .description(
        verb === 'drain' ? 'move every node off the host, one at a time' : 'let the host take new nodes again',
      )
      .action(async (h: string, _o, command: Command) => {
        const ctx = CliContext.from(command);
        const id = await hostId(ctx, h);
        const path = `/v1/hosts/{id}/${verb}` as const;
        ctx.print(await dataOf(ctx.client.api.POST(path, { params: { path: { id } }, body: {} })), hostColumns);
      });
  }
  hosts
    .command('fault <host> <fault> [nodeId]')
    .description(
      'simulated hosts: a node fault (crash, hang, unready, cpu-load --cpu-percent N) or a host fault ' +
        '(unreachable: a network partition; reachable: its end)',
    )
    .option('--cpu-percent <n>', 'for cpu-load: the CPU use the node reports', (v) => Number(v))
    .action(
      async (h: string, fault: string, nodeId: string | undefined, o: { cpuPercent?: number }, command: Command) => {
        const known = FAULTS.find((f) => f === fault);
        if (!known) throw new UsageError(`<fault> must be one of ${FAULTS.join(', ')}, got "${fault}"`);
        const ctx = CliContext.from(command);
        const id = await hostId(ctx, h);
        const body: Schemas['HostFaultRequest'] = {
          fault: known,
          ...(nodeId ? { nodeId } : {}),
          ...(o.cpuPercent !== undefined ? { cpuPercent: o.cpuPercent } : {}),
        };
        await dataOf(ctx.client.api.POST('/v1/hosts/{id}/faults', { params: { path: { id } }, body }));
        process.stdout.write(`fault ${fault} sent to ${nodeId ? `node ${nodeId}` : `host ${h}`}\n`);
      },
    );

  const images = new Command('images').description('base images nodes boot from (operator)');
  images
    .command('add <name>')
    .description('register a base image: a kernel and initrd (direct boot), or a disk image; --default for new nodes')
    .option('--kernel <path>', 'kernel on every host (direct boot)')
    .option('--initrd <path>', 'initramfs on every host')
    .option('--cmdline <text>', 'kernel command line')
    .option('--disk <path>', 'qcow2 cloud image on every host')
    .option('--default', 'use for new clusters')
    .action(
      async (
        name: string,
        o: { kernel?: string; initrd?: string; cmdline?: string; disk?: string; default?: boolean },
        command: Command,
      ) => {
        const ctx = CliContext.from(command);
        const body: Schemas['CreateImageRequest'] = o.disk
          ? { name, kind: 'qcow2', diskPath: o.disk, isDefault: o.default ?? false }
          : {
              name,
              kind: 'kernel',
              kernelPath: o.kernel,
              initrdPath: o.initrd,
              ...(o.cmdline ? { kernelCmdline: o.cmdline } : {}),
              isDefault: o.default ?? false,
            };
        ctx.print(await dataOf(ctx.client.api.POST('/v1/images', { body })), imageColumns);
      },
    );
  images
    .command('list')
    .description('list the registered base images')
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      ctx.print((await dataOf(ctx.client.api.GET('/v1/images'))).items, imageColumns);
    });

  const health = new Command('health').description('health checks (operator)');
  health
    .command('run')
    .description('sweep every host now and print what was found and done')
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      const res = await dataOf(ctx.client.api.POST('/v1/health/sweeps', { body: {} }));
      ctx.print(res.items, [
        { header: 'HOST', value: (r) => r.host },
        { header: 'NODES', value: (r) => r.nodes },
        { header: 'UNHEALTHY', value: (r) => r.unhealthy },
        { header: 'VMS RECREATED', value: (r) => r.recreated },
        { header: 'ORPHANS DESTROYED', value: (r) => r.orphansDestroyed },
        { header: 'MS', value: (r) => r.ms },
        { header: 'ERROR', value: (r) => r.error },
      ]);
    });
  return [hosts, images, health];
}
