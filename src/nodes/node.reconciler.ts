import { Inject, Injectable } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BundlesService } from '../clusters/bundles.service.js';
import type { ClusterEntity } from '../clusters/cluster.entity.js';
import { type ClusterSecrets, issueCertificate } from '../clusters/cluster-pki.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { EventsService } from '../clusters/events.service.js';
import { setCondition } from '../common/conditions.js';
import { Database } from '../common/database.js';
import { decryptSecret } from '../common/secrets.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import type { GuestStatus } from '../hypervisor/guest-status.js';
import type { HostDriver } from '../hypervisor/host-driver.js';
import { HostLeases } from '../hypervisor/host-leases.service.js';
import type { HostRuntime } from '../hypervisor/host-runtime.js';
import { HostsRepository } from '../hypervisor/hosts.repository.js';
import { buildIso9660, buildNoCloudSeed } from '../hypervisor/seed/index.js';
import type { DomainSpec } from '../hypervisor/xml/domain-xml.js';
import { libvirtNames, macFor } from '../hypervisor/xml/names.js';
import { JobQueue, type JobPayloads } from '../jobs/job-types.js';
import { OnJob } from '../jobs/on-job.decorator.js';
import { parseCidr } from '../networks/cidr.js';
import { FloatingIpsRepository } from '../networks/floating-ips.repository.js';
import type { VpcEntity } from '../networks/network.entities.js';
import { VpcsRepository } from '../networks/vpcs.repository.js';
import { VpcsService } from '../networks/vpcs.service.js';
import { ControlPlaneLeaver } from './control-plane-leaver.service.js';
import { buildUserData } from './node-boot-config.js';
import type { NodeEntity, NodePhase } from './node.entity.js';
import { NodesRepository } from './nodes.repository.js';

const GIB = 2 ** 30;
/** A booting node's passes that only probe its guest do a full pass at least this often. */
const ENSURE_EVERY_MS = 30000;

/** Maps what the guest says to the node phase the tenant sees. */
export function phaseFromGuest(status: GuestStatus | undefined): NodePhase {
  if (!status) return 'Booting';
  if (status.ready) return 'Ready';
  if (status.stage === 'failed') return 'Failed';
  return status.stage === 'booting' ? 'Booting' : 'Joining';
}

/**
 * Makes one node's VM real on its host, and tears it down. Runs on the host's queue, in the
 * worker holding that host, so it is the only writer of that host's libvirt state. Each step
 * observes before it acts; running the whole pass again after a crash at any point finishes
 * the work without doing anything twice.
 */
@Injectable()
export class NodeReconciler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    private readonly db: Database,
    private readonly nodes: NodesRepository,
    private readonly clusters: ClustersRepository,
    private readonly vpcs: VpcsRepository,
    private readonly vpcsService: VpcsService,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly hosts: HostsRepository,
    private readonly leases: HostLeases,
    private readonly bundles: BundlesService,
    private readonly events: EventsService,
    private readonly jobs: JobQueue,
    private readonly leaver: ControlPlaneLeaver,
  ) {}

  /** Bundle ISOs built in this process, by bundle and version (tens of MiB; built once). */
  private readonly bundleIsos = new Map<string, Buffer>();

  private runtimeFor(node: NodeEntity): HostRuntime & { driver: HostDriver } {
    const runtime = node.hostId ? this.leases.runtime(node.hostId) : undefined;
    if (!runtime?.driver) throw new Error(`host ${node.hostId} is not connected in this worker; will retry`);
    return runtime as HostRuntime & { driver: HostDriver };
  }

  @OnJob('node.reconcile')
  async reconcile(payload: JobPayloads['node.reconcile']): Promise<{ phase: string }> {
    const node = await this.nodes.findById(payload.nodeId);
    if (!node) return { phase: 'gone' };
    const cluster = await this.clusters.findById(node.clusterId);
    const runtime = this.runtimeFor(node);
    if (!cluster || cluster.deletingAt || node.deleteRequestedAt) {
      this.forgetEnsured(node.id);
      await this.teardown(node, cluster, runtime);
      return { phase: 'deleted' };
    }
    // While a started guest boots, this runs every KAAS_REQUEUE_MS to ask it how far it got: such
    // a pass only probes, as long as everything was ensured lately and the VM runs.
    const domain = libvirtNames.domain(node.id);
    if (this.mayOnlyProbe(node) && (await runtime.driver.domainState(domain)) === 'running')
      return { phase: await this.probeGuest(node, runtime, domain) };
    const vpc = await this.vpcs.findById(cluster.vpcId);
    if (!vpc) throw new Error(`VPC ${cluster.vpcId} of cluster ${cluster.id} is missing`);
    const phase = await this.provision(node, cluster, vpc, runtime);
    return { phase };
  }

  private async provision(
    node: NodeEntity,
    cluster: ClusterEntity,
    vpc: VpcEntity,
    runtime: HostRuntime & { driver: HostDriver },
  ): Promise<NodePhase> {
    const driver = runtime.driver;
    const target = { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id };
    const domain = libvirtNames.domain(node.id);
    const pool = libvirtNames.storagePool(cluster.storagePoolId);
    const network = libvirtNames.vpcNetwork(vpc.id);
    if (node.phase === 'Pending')
      await this.setPhase(node, 'Provisioning', 'Provisioning', 'creating volume, seed and VM');

    await driver.ensurePool({
      type: 'dir',
      name: pool,
      path: join(this.config.hostDataDir, 'pools', cluster.storagePoolId),
    });
    const cidr = parseCidr(vpc.cidr);
    if (!cidr.ok) throw new Error(`VPC ${vpc.id} has an invalid CIDR`);
    await driver.ensureNetwork({
      name: network,
      bridge: libvirtNames.vpcBridge(vpc.id),
      gateway: vpc.gateway,
      prefix: cidr.cidr.prefix,
      hosts: [],
      ownerNote: `kaas VPC ${vpc.id} of tenant ${vpc.tenantId}`,
    });
    if (!node.address) throw new Error(`node ${node.id} has no address`);
    await driver.setDhcpHost(network, { mac: node.mac, ip: node.address, name: node.name });

    const image = cluster.imageId ? await this.hosts.findImage(cluster.imageId) : null;
    const disk = libvirtNames.nodeVolume(node.id);
    const base =
      image?.kind === 'qcow2' && image.diskPath ? { path: image.diskPath, format: 'qcow2' as const } : undefined;
    await driver.ensureVolume(pool, { name: disk, capacityBytes: node.diskGiB * GIB, format: 'qcow2', backing: base });

    const seed = libvirtNames.seedVolume(node.id);
    const seedExists = (await driver.listVolumes(pool)).includes(seed);
    if (!seedExists) {
      // Simulated guests run no code, so their seed stays empty; real ones get the boot script.
      const content = runtime.simulator ? Buffer.alloc(2048) : await this.buildSeed(node, cluster, vpc);
      await driver.ensureVolumeWithContent(pool, seed, content);
    }

    const bundleDisk = await this.ensureBundleDisk(cluster, runtime);
    const provider = node.role === 'master' ? await this.ensureProvider(node, cluster, driver) : undefined;

    const spec: DomainSpec = {
      name: domain,
      type: (await this.hosts.findById(node.hostId!))?.domainType ?? 'qemu',
      vcpus: node.vcpus,
      memoryMiB: node.memoryMiB,
      boot:
        image?.kind === 'kernel' && image.kernelPath && image.initrdPath
          ? { kind: 'kernel', kernel: image.kernelPath, initrd: image.initrdPath, cmdline: image.kernelCmdline }
          : { kind: 'disk' },
      disks: [
        { pool, volume: disk, format: 'qcow2', device: 'disk', bus: 'virtio', target: 'vda' },
        { pool, volume: seed, format: 'raw', device: 'disk', bus: 'virtio', target: 'vdb', readonly: true },
        {
          pool: libvirtNames.platformPool(),
          volume: bundleDisk,
          format: 'raw',
          device: 'disk',
          bus: 'virtio',
          target: 'vdc',
          readonly: true,
        },
      ],
      nics: [{ network, mac: node.mac }, ...(provider ? [provider] : [])],
      consoleLog: runtime.simulator ? undefined : `/var/log/libvirt/qemu/${domain}.console.log`,
      owner: {
        tenantId: node.tenantId,
        clusterId: node.clusterId,
        nodeId: node.id,
        role: node.role,
        clusterName: cluster.name,
        nodeName: node.name,
      },
    };
    const { created } = await driver.ensureDomain(spec);
    const state = await driver.domainState(domain);
    if (node.bootStartedAt === null || (created && node.bootStartedAt !== null)) {
      if (created && node.bootStartedAt !== null) {
        await this.events.warning(
          target,
          'VmRecreated',
          `VM of ${node.name} was missing on its host and has been recreated`,
        );
      }
      await driver.startDomain(domain);
      await this.nodes.update(node.id, { bootStartedAt: new Date() });
      node.bootStartedAt = new Date();
      await this.setPhase(node, 'Booting', 'VmStarted', `VM started on host ${node.hostId}`);
    } else if (state !== 'running') {
      // A node that has booted before and is now stopped is the health checks' business.
      return node.phase;
    }
    this.ensuredAt.set(node.id, Date.now());
    return this.probeGuest(node, runtime, domain);
  }

  /**
   * When each node's full pass (volumes, network, DHCP entry, VM) last completed in this worker.
   * Entries go when the node is Ready or gone, or when they are too old to matter.
   */
  private readonly ensuredAt = new Map<string, number>();

  private mayOnlyProbe(node: NodeEntity): boolean {
    if (node.bootStartedAt === null || !['Booting', 'Joining'].includes(node.phase)) return false;
    const at = this.ensuredAt.get(node.id);
    return at !== undefined && Date.now() - at < ENSURE_EVERY_MS;
  }

  private forgetEnsured(nodeId: string): void {
    this.ensuredAt.delete(nodeId);
    if (this.ensuredAt.size > 10000) {
      const cutoff = Date.now() - ENSURE_EVERY_MS;
      for (const [id, at] of this.ensuredAt) if (at < cutoff) this.ensuredAt.delete(id);
    }
  }

  /** Asks the running guest how it is, moves the node's phase, and comes back until it is Ready. */
  private async probeGuest(
    node: NodeEntity,
    runtime: HostRuntime & { driver: HostDriver },
    domain: string,
  ): Promise<NodePhase> {
    const probe = await runtime.probe.probe({ domainName: domain, address: node.address, nodeId: node.id });
    const next = phaseFromGuest(probe.answered ? probe.status : undefined);
    // The heartbeat is written at most every few seconds while the guest boots (the host's sweep
    // writes it for running nodes), and with the phase when that changes.
    if (
      probe.answered &&
      (next !== node.phase || !node.lastHeartbeatAt || Date.now() - node.lastHeartbeatAt.getTime() > 5000)
    )
      await this.nodes.update(node.id, { lastHeartbeatAt: new Date() });
    if (next !== node.phase) {
      await this.setPhase(
        node,
        next,
        probe.answered ? `Guest${probe.status.stage}` : 'GuestNotAnswering',
        probe.answered ? (probe.status.message ?? probe.status.stage) : probe.error,
      );
    }
    if (next !== 'Ready') {
      await this.jobs.enqueue(
        'node.reconcile',
        { nodeId: node.id },
        { hostId: node.hostId!, resourceKey: node.id, delayMs: this.config.requeueMs },
      );
    } else this.forgetEnsured(node.id);
    return next;
  }

  /** The bundle's artifacts as a read-only ISO (label kaas-bundle), made once per host. */
  private async ensureBundleDisk(
    cluster: ClusterEntity,
    runtime: HostRuntime & { driver: HostDriver },
  ): Promise<string> {
    const driver = runtime.driver;
    const bundle = this.bundles.get(cluster.controlPlane);
    const name = libvirtNames.bundleVolume(cluster.controlPlane, cluster.version, bundle?.digest ?? 'none');
    await driver.ensurePool({
      type: 'dir',
      name: libvirtNames.platformPool(),
      path: join(this.config.hostDataDir, 'platform'),
    });
    if (!(await driver.listVolumes(libvirtNames.platformPool())).includes(name)) {
      const content = runtime.simulator ? Buffer.alloc(2048) : await this.bundleIso(cluster);
      await driver.ensureVolumeWithContent(libvirtNames.platformPool(), name, content);
    }
    return name;
  }

  private async bundleIso(cluster: ClusterEntity): Promise<Buffer> {
    const bundle = this.bundles.get(cluster.controlPlane);
    if (!bundle) throw new Error(`bundle ${cluster.controlPlane} is not installed`);
    const key = `${cluster.controlPlane}/${cluster.version}/${bundle.digest}`;
    let iso = this.bundleIsos.get(key);
    if (!iso) {
      const files = await Promise.all(
        bundle.manifest.versions[cluster.version].artifacts.map(async (a) => ({
          name: a.replace(/^.*\//, ''),
          data: await readFile(join(bundle.dir, a)),
        })),
      );
      iso = buildIso9660({ volumeId: 'kaas-bundle', files });
      this.bundleIsos.set(key, iso);
    }
    return iso;
  }

  /**
   * Masters get a second NIC on the provider network of their floating IP's range; the master
   * holding the floating IP gets the static DHCP entry that hands it that address.
   */
  private async ensureProvider(
    node: NodeEntity,
    cluster: ClusterEntity,
    driver: HostDriver,
  ): Promise<{ network: string; mac: string } | undefined> {
    const fip = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    if (!fip) return undefined;
    const range = await this.floatingIps.findRangeById(fip.rangeId);
    if (!range) return undefined;
    const providerCidr = parseCidr(range.providerCidr);
    if (!providerCidr.ok) throw new Error(`range ${range.id} has an invalid provider CIDR`);
    const network = libvirtNames.providerNetwork(range.id);
    await driver.ensureNetwork({
      name: network,
      bridge: libvirtNames.providerBridge(range.id),
      gateway: range.gateway,
      prefix: providerCidr.cidr.prefix,
      hosts: [],
      ownerNote: `kaas floating-IP range ${range.id}`,
    });
    const mac = macFor(node.id, 'provider');
    if (fip.holderNodeId === node.id) {
      const { moved } = await driver.pointDhcpAddress(network, fip.address, mac);
      if (moved) {
        await this.events.normal(
          { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
          'FloatingIpAssociated',
          `floating IP ${fip.address} now reaches ${node.name}`,
        );
      }
    } else {
      await driver.removeDhcpHost(network, { mac, ip: fip.address });
    }
    return { network, mac };
  }

  async setPhase(node: NodeEntity, phase: NodePhase, reason: string, message: string): Promise<void> {
    if (node.phase === phase) return;
    const target = { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id };
    const conditions = setCondition(node.conditions, 'Ready', phase === 'Ready' ? 'True' : 'False', reason, message);
    await this.nodes.update(node.id, {
      phase,
      conditions,
      ...(phase === 'Ready' ? { readyAt: new Date(), unhealthySince: null } : {}),
    });
    await this.events[phase === 'Failed' ? 'warning' : 'normal'](target, `Node${phase}`, `${node.name}: ${message}`);
    const was = node.phase;
    node.phase = phase;
    node.conditions = conditions;
    // The cluster's plan turns on readiness and failure; the steps of a boot (Provisioning,
    // Booting, Joining) show in its conditions at its next pass, which comes within 10 requeues.
    if (phase === 'Ready' || was === 'Ready' || phase === 'NotReady' || phase === 'Failed')
      await this.jobs.enqueue('cluster.reconcile', { clusterId: node.clusterId }, { resourceKey: node.clusterId });
  }

  /** Removes the VM, its volumes, its DHCP entry and address, then the node row. Idempotent. */
  async teardown(
    node: NodeEntity,
    cluster: ClusterEntity | null,
    runtime: HostRuntime & { driver: HostDriver },
  ): Promise<void> {
    const driver = runtime.driver;
    const domain = libvirtNames.domain(node.id);
    if (node.phase !== 'Deleting') {
      await this.nodes.update(node.id, { phase: 'Deleting' });
    }
    if (
      cluster &&
      !cluster.deletingAt &&
      (await this.leaver.leave(node, cluster, Boolean(runtime.simulator))) === 'wait'
    ) {
      await this.jobs.enqueue(
        'node.reconcile',
        { nodeId: node.id },
        { hostId: node.hostId!, resourceKey: node.id, delayMs: Math.max(this.config.requeueMs, 5000) },
      );
      return;
    }
    runtime.expectStop(domain);
    await driver.shutdownDomain(domain, runtime.simulator ? 0 : 20000);
    await driver.removeDomain(domain);
    if (cluster) {
      const pool = libvirtNames.storagePool(cluster.storagePoolId);
      await driver.removeVolume(pool, libvirtNames.seedVolume(node.id));
      await driver.removeVolume(pool, libvirtNames.nodeVolume(node.id));
      if (node.address)
        await driver.removeDhcpHost(libvirtNames.vpcNetwork(cluster.vpcId), { mac: node.mac, ip: node.address });
      // A master may hold the floating IP on its provider NIC: that entry goes with the node.
      const fip =
        node.role === 'master' ? await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId) : null;
      if (fip)
        await driver.removeDhcpHost(libvirtNames.providerNetwork(fip.rangeId), {
          mac: macFor(node.id, 'provider'),
          ip: fip.address,
        });
    }
    await this.db.transaction(async (tx) => {
      await this.vpcsService.releaseAddresses(tx, node.id);
      await tx.query(`DELETE FROM volumes WHERE owner_id = $1`, [node.id]);
      await this.nodes.remove(tx, node.id);
    });
    if (cluster) {
      await this.events.normal(
        { tenantId: node.tenantId, clusterId: node.clusterId, nodeId: node.id },
        'NodeDeleted',
        `${node.name} removed`,
      );
      await this.jobs.enqueue('cluster.reconcile', { clusterId: node.clusterId }, { resourceKey: node.clusterId });
    }
  }

  private async buildSeed(node: NodeEntity, cluster: ClusterEntity, vpc: VpcEntity): Promise<Buffer> {
    const sealed = await this.clusters.secrets(cluster.id);
    if (!sealed) throw new Error(`cluster ${cluster.id} has no secrets yet`);
    const secrets = JSON.parse(decryptSecret(this.config.secretKey, sealed.sealed, cluster.id)) as ClusterSecrets;
    const bundle = this.bundles.get(cluster.controlPlane);
    if (!bundle) throw new Error(`bundle ${cluster.controlPlane} is not installed`);
    const fip = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    const siblings = await this.nodes.forCluster(cluster.id);
    const masters = siblings.filter((n) => n.role === 'master' && !n.deleteRequestedAt && n.address);
    const cidr = parseCidr(vpc.cidr);
    const nodeCert = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: node.name },
      {
        server: node.role === 'master',
        client: true,
        ips: [node.address!, '127.0.0.1', ...(fip ? [fip.address] : [])],
        dns: [node.name, 'localhost'],
      },
    );
    const userData = buildUserData({
      role: node.role,
      nodeId: node.id,
      nodeName: node.name,
      nodeAddress: node.address!,
      clusterName: cluster.name,
      clusterId: cluster.id,
      bundle: cluster.controlPlane,
      version: cluster.version,
      floatingIp: fip?.address ?? null,
      masterAddresses: masters.map((m) => m.address!),
      initialMaster: node.role === 'master' && masters.every((m) => m.id === node.id || m.phase !== 'Ready'),
      gateway: vpc.gateway,
      prefix: cidr.ok ? cidr.cidr.prefix : 24,
      secrets: {
        caCertPem: secrets.caCertPem,
        joinToken: secrets.joinToken,
        ...(node.role === 'master' ? { caKeyPem: secrets.caKeyPem } : {}),
      },
      nodeCert,
      commonScript: this.bundles.script(bundle, 'common'),
      roleScript: this.bundles.script(bundle, node.role),
    });
    return buildNoCloudSeed({ instanceId: node.id, hostname: node.name, userData });
  }
}
