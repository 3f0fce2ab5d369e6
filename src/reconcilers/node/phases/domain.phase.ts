import { Injectable } from '@nestjs/common';
import type { DomainSpec } from '../../../hypervisor/xml/domain-xml.js';
import { libvirtNames } from '../../../hypervisor/xml/names.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

/**
 * The VM itself: defined with the disks and NICs the phases before prepared, and started once.
 * A VM that is missing after it had booted is made again (and said so); a VM that booted before
 * and is now stopped is left to the health checks.
 */
@Injectable()
export class DomainPhase implements NodePhaseStep {
  readonly name = 'domain';

  async run(scope: NodeScope): Promise<PhaseResult> {
    const { node, backend, names } = scope;
    const cluster = scope.liveCluster;
    const pool = libvirtNames.storagePool(cluster.storagePoolId);
    const image = scope.image;
    const disks: DomainSpec['disks'] = [
      { pool, volume: names.disk, format: 'qcow2', device: 'disk', bus: 'virtio', target: 'vda' },
      { pool, volume: names.seed, format: 'raw', device: 'disk', bus: 'virtio', target: 'vdb', readonly: true },
    ];
    if (scope.domainParts.bundleVolume) {
      disks.push({
        pool: libvirtNames.platformPool(),
        volume: scope.domainParts.bundleVolume,
        format: 'raw',
        device: 'disk',
        bus: 'virtio',
        target: 'vdc',
        readonly: true,
      });
    }
    const spec: DomainSpec = {
      name: names.domain,
      type: scope.runtime.host.domainType ?? 'qemu',
      vcpus: node.vcpus,
      memoryMiB: node.memoryMiB,
      boot:
        image?.kind === 'kernel' && image.kernelPath && image.initrdPath
          ? { kind: 'kernel', kernel: image.kernelPath, initrd: image.initrdPath, cmdline: image.kernelCmdline }
          : { kind: 'disk' },
      disks,
      nics: scope.domainParts.nics,
      consoleLog: backend.consoleLogPath(names.domain),
      owner: {
        tenantId: node.tenantId,
        clusterId: node.clusterId,
        nodeId: node.id,
        role: node.role,
        clusterName: cluster.name,
        nodeName: node.name,
      },
    };
    const { created } = await backend.ensureDomain(spec);
    const state = await backend.domainState(names.domain);
    scope.observed.domainState = state;
    const bootedBefore = node.bootStartedAt !== null;
    if (!bootedBefore || created) {
      if (created && bootedBefore)
        scope.event('warning', 'VmRecreated', `VM of ${node.name} was missing on its host and has been recreated`);
      await backend.startDomain(names.domain);
      scope.observed.domainState = 'running';
      scope.status.bootStartedAt = new Date();
      scope.setPhase('Booting', 'VmStarted', `VM started on host ${node.hostId}`);
      return CONTINUE;
    }
    // A node that has booted before and is now stopped is the health checks' business.
    return state === 'running' ? CONTINUE : { stop: true };
  }
}
