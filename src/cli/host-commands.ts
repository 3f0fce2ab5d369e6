import { Command } from 'commander';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';

interface Host {
  id: string;
  name: string;
  uri: string;
  domainType: string;
  simulated: boolean;
  state: string;
  capacity: { cpus: number; memoryMiB: number };
  allocated: { vcpus: number; memoryMiB: number; nodes: number };
}

const hostColumns: Column<Host>[] = [
  { header: 'ID', value: (h) => h.id },
  { header: 'NAME', value: (h) => h.name },
  { header: 'STATE', value: (h) => h.state },
  { header: 'URI', value: (h) => `${h.uri}${h.simulated ? ' (simulated)' : ''}` },
  { header: 'TYPE', value: (h) => h.domainType },
  { header: 'VCPUS', value: (h) => `${h.allocated.vcpus}/${h.capacity.cpus}` },
  { header: 'MEMORY MiB', value: (h) => `${h.allocated.memoryMiB}/${h.capacity.memoryMiB}` },
  { header: 'NODES', value: (h) => h.allocated.nodes },
];

async function hostId(ctx: CliContext, idOrName: string): Promise<string> {
  const res = await ctx.client.request<{ items: Host[] }>('GET', '/v1/hosts');
  const found = res.items.find((h) => h.id === idOrName || h.name === idOrName);
  if (!found) throw new Error(`no host named "${idOrName}"`);
  return found.id;
}

export function hostCommands(): Command[] {
  const hosts = new Command('hosts').description('hypervisor hosts (operator)');
  hosts
    .command('add <name> <uri>')
    .description('register a libvirt host: qemu:///system, qemu+ssh://user@host/system, test:///... (simulated)')
    .option('--domain-type <type>', 'kvm (production) or qemu (no hardware virtualisation)', 'kvm')
    .option('--cpus <n>', 'override the CPU count', intOption('cpus'))
    .option('--memory-mib <n>', 'override the memory', intOption('memory-mib'))
    .option('--chassis <name>', "its Open vSwitch system-id, when it is not the host's name")
    .option('--disk-gib <n>', "disk for nodes' volumes (default: measured from the host)", intOption('disk-gib'))
    .action(
      async (
        name: string,
        uri: string,
        o: { domainType: string; cpus?: number; memoryMib?: number; chassis?: string; diskGib?: number },
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
        ctx.print(await ctx.client.request<Host>('POST', '/v1/hosts', body), hostColumns);
      },
    );
  hosts.command('list').action(async (_o, command: Command) => {
    const ctx = CliContext.from(command);
    ctx.print((await ctx.client.request<{ items: Host[] }>('GET', '/v1/hosts')).items, hostColumns);
  });
  hosts.command('show <host>').action(async (h: string, _o, command: Command) => {
    const ctx = CliContext.from(command);
    ctx.print(await ctx.client.request<Host>('GET', `/v1/hosts/${await hostId(ctx, h)}`), hostColumns);
  });
  hosts.command('remove <host>').action(async (h: string, _o, command: Command) => {
    const ctx = CliContext.from(command);
    await ctx.client.request('DELETE', `/v1/hosts/${await hostId(ctx, h)}`);
    process.stdout.write(`host ${h} removed\n`);
  });
  for (const verb of ['drain', 'undrain']) {
    hosts
      .command(`${verb} <host>`)
      .description(
        verb === 'drain' ? 'move every node off the host, one at a time' : 'let the host take new nodes again',
      )
      .action(async (h: string, _o, command: Command) => {
        const ctx = CliContext.from(command);
        ctx.print(await ctx.client.request<Host>('POST', `/v1/hosts/${await hostId(ctx, h)}/${verb}`, {}), hostColumns);
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
        const ctx = CliContext.from(command);
        await ctx.client.request('POST', `/v1/hosts/${await hostId(ctx, h)}/faults`, {
          fault,
          ...(nodeId ? { nodeId } : {}),
          ...(o.cpuPercent !== undefined ? { cpuPercent: o.cpuPercent } : {}),
        });
        process.stdout.write(`fault ${fault} sent to ${nodeId ? `node ${nodeId}` : `host ${h}`}\n`);
      },
    );

  const images = new Command('images').description('base images nodes boot from (operator)');
  images
    .command('add <name>')
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
        const body = o.disk
          ? { name, kind: 'qcow2', diskPath: o.disk, isDefault: o.default ?? false }
          : {
              name,
              kind: 'kernel',
              kernelPath: o.kernel,
              initrdPath: o.initrd,
              ...(o.cmdline ? { kernelCmdline: o.cmdline } : {}),
              isDefault: o.default ?? false,
            };
        const img = await ctx.client.request<{ id: string; name: string; kind: string; isDefault: boolean }>(
          'POST',
          '/v1/images',
          body,
        );
        ctx.print(img, [
          { header: 'ID', value: (i) => i.id },
          { header: 'NAME', value: (i) => i.name },
          { header: 'KIND', value: (i) => i.kind },
          { header: 'DEFAULT', value: (i) => i.isDefault },
        ]);
      },
    );
  images.command('list').action(async (_o, command: Command) => {
    const ctx = CliContext.from(command);
    const res = await ctx.client.request<{ items: { id: string; name: string; kind: string; isDefault: boolean }[] }>(
      'GET',
      '/v1/images',
    );
    ctx.print(res.items, [
      { header: 'ID', value: (i) => i.id },
      { header: 'NAME', value: (i) => i.name },
      { header: 'KIND', value: (i) => i.kind },
      { header: 'DEFAULT', value: (i) => i.isDefault },
    ]);
  });

  const health = new Command('health').description('health checks (operator)');
  health
    .command('run')
    .description('sweep every host now and print what was found and done')
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      const res = await ctx.client.request<{
        items: {
          host: string;
          nodes: number;
          unhealthy: number;
          recreated: number;
          orphansDestroyed: number;
          ms: number;
          error?: string;
        }[];
      }>('POST', '/v1/health/sweeps', {});
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
