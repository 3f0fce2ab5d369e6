import type { Command } from 'commander';
import { intOption } from './context.js';
import { resourceCommand } from './resource-commands.js';

interface StoragePool {
  id: string;
  name: string;
  capacityGiB: number;
  allocatedGiB: number;
  state: string;
}

export function tenantResourceCommands(): Command[] {
  return [
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
