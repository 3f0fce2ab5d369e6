import { Inject, Injectable } from '@nestjs/common';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG } from '../../../common/tokens.js';
import type { AppConfig } from '../../../config/config.js';
import { BundlesService } from '../../../control-plane/bundles.service.js';
import { issueCertificate } from '../../../control-plane/cluster-pki.js';
import { ClusterSecretsStore } from '../../../control-plane/cluster-secrets.store.js';
import { buildUserData } from '../../../control-plane/node-boot-config.js';
import { checkEtcdSnapshot } from '../../../control-plane/etcd-snapshot.js';
import { BackupsRepository, backupVolumeName } from '../../../backups/backups.repository.js';
import { buildIso9660, buildNoCloudSeed } from '../../../hypervisor/seed/index.js';
import { libvirtNames } from '../../../hypervisor/xml/names.js';
import { parseCidr } from '../../../common/cidr.js';
import { FloatingIpsRepository } from '../../../networks/floating-ips.repository.js';
import { NodesRepository } from '../../../nodes/nodes.repository.js';
import { CONTINUE, type NodePhaseStep, type NodeScope, type PhaseResult } from '../node-scope.js';

/** The snapshot a restoring master starts from, as a file on its seed. */
const RESTORE_FILE = 'etcd-snapshot.db';

interface RestoreSnapshot {
  backupId: string;
  data: Buffer;
  sha256: string;
}

/**
 * What the guest reads at boot: its NoCloud seed (boot script, certificates, join token) in the
 * tenant's pool, and the bundle's artifacts as a read-only disk shared by the host's nodes.
 * Both are built only when missing, and only for hosts whose guests read them.
 */
@Injectable()
export class SeedPhase implements NodePhaseStep {
  readonly name = 'seed';
  /** Bundle ISOs built in this process, by bundle and version (tens of MiB; built once). */
  private readonly bundleIsos = new Map<string, Buffer>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly bundles: BundlesService,
    private readonly secrets: ClusterSecretsStore,
    private readonly floatingIps: FloatingIpsRepository,
    private readonly nodes: NodesRepository,
    private readonly backups: BackupsRepository,
  ) {}

  async run(scope: NodeScope): Promise<PhaseResult> {
    const cluster = scope.liveCluster;
    const pool = libvirtNames.storagePool(cluster.storagePoolId);
    // Read (and checked) before the seed is made, whether or not the host's guests read seeds.
    const restore =
      this.restoring(scope) && !(await scope.backend.listVolumes(pool)).includes(scope.names.seed)
        ? await this.restoreSnapshot(scope)
        : undefined;
    const { created } = await scope.backend.ensureContentVolume(pool, scope.names.seed, () =>
      this.buildSeed(scope, restore),
    );
    if (restore && created)
      scope.events.push({
        type: 'normal',
        reason: 'RestoringFromBackup',
        message: `${scope.node.name} starts the control plane from backup ${restore.backupId} (${restore.data.length} bytes, sha256 ${restore.sha256.slice(0, 12)}…)`,
      });
    scope.domainParts.bundleVolume = await this.ensureBundleDisk(scope);
    return CONTINUE;
  }

  private async ensureBundleDisk(scope: NodeScope): Promise<string> {
    const cluster = scope.liveCluster;
    const bundle = this.bundles.get(cluster.controlPlane);
    // The node's own version: during an upgrade, old and new nodes run side by side.
    const version = scope.node.version;
    const name = libvirtNames.bundleVolume(cluster.controlPlane, version, bundle?.digest ?? 'none');
    const pool = libvirtNames.platformPool();
    await scope.backend.ensurePool({ type: 'dir', name: pool, path: join(this.config.hostDataDir, 'platform') });
    await scope.backend.ensureContentVolume(pool, name, () => this.bundleIso(cluster.controlPlane, version));
    return name;
  }

  private async bundleIso(controlPlane: string, version: string): Promise<Buffer> {
    const bundle = this.bundles.get(controlPlane);
    if (!bundle) throw new Error(`bundle ${controlPlane} is not installed`);
    const key = `${controlPlane}/${version}/${bundle.digest}`;
    let iso = this.bundleIsos.get(key);
    if (!iso) {
      const files = await Promise.all(
        bundle.manifest.versions[version].artifacts.map(async (a) => ({
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
   * For the first master of a cluster made from a backup (until the cluster first runs): the
   * snapshot, read back from the backup's volume (the node was placed on the host holding it)
   * and checked against what was recorded when it was taken.
   */
  private restoring(scope: NodeScope): boolean {
    const cluster = scope.liveCluster;
    return scope.node.role === 'master' && cluster.restoreBackupId !== null && !cluster.restoredAt;
  }

  private async restoreSnapshot(scope: NodeScope): Promise<RestoreSnapshot | undefined> {
    const { node } = scope;
    const cluster = scope.liveCluster;
    if (!this.restoring(scope) || !cluster.restoreBackupId) return undefined;
    const siblings = await this.nodes.forCluster(cluster.id);
    if (siblings.some((m) => m.role === 'master' && m.id !== node.id && !m.deleteRequestedAt && m.phase === 'Ready'))
      return undefined;
    const backup = await this.backups.findById(cluster.restoreBackupId);
    if (!backup || backup.phase !== 'Succeeded' || !backup.sha256)
      throw new Error(`backup ${cluster.restoreBackupId} to restore from is gone`);
    if (backup.hostId !== node.hostId)
      throw new Error(`backup ${backup.id} is stored on host ${backup.hostId}, not on this node's host`);
    const data = await scope.backend.readBlobVolume(
      libvirtNames.storagePool(backup.storagePoolId),
      backupVolumeName(backup.id),
      this.config.backup.maxBytes,
    );
    const check = checkEtcdSnapshot(data);
    if (!check.ok) throw new Error(`backup ${backup.id} no longer reads as a snapshot: ${check.reason}`);
    if (check.sha256 !== backup.sha256)
      throw new Error(`backup ${backup.id} reads back with another hash than it was stored with`);
    return { backupId: backup.id, data, sha256: check.sha256 };
  }

  private async buildSeed(scope: NodeScope, restore?: RestoreSnapshot): Promise<Buffer> {
    const { node } = scope;
    const cluster = scope.liveCluster;
    const vpc = scope.vpc;
    if (!vpc) throw new Error(`node ${node.id}: the network phase runs before the seed`);
    const secrets = await this.secrets.get(cluster.id);
    if (!secrets) throw new Error(`cluster ${cluster.id} has no secrets yet`);
    const bundle = this.bundles.get(cluster.controlPlane);
    if (!bundle) throw new Error(`bundle ${cluster.controlPlane} is not installed`);
    if (scope.floatingIp === undefined)
      scope.floatingIp = await this.floatingIps.findForTenant(cluster.tenantId, cluster.floatingIpId);
    const fip = scope.floatingIp;
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
    // Renewal replaces the node before this date comes near (cluster reconciler).
    await this.nodes.update(node.id, { certificateExpiresAt: new Date(new X509Certificate(nodeCert.certPem).validTo) });
    const userData = buildUserData({
      role: node.role,
      nodeId: node.id,
      nodeName: node.name,
      nodeAddress: node.address!,
      clusterName: cluster.name,
      clusterId: cluster.id,
      bundle: cluster.controlPlane,
      version: node.version,
      floatingIp: fip?.address ?? null,
      masterAddresses: masters.map((m) => m.address!),
      initialMaster: node.role === 'master' && masters.every((m) => m.id === node.id || m.phase !== 'Ready'),
      gateway: vpc.gateway,
      prefix: cidr.ok ? cidr.cidr.prefix : 24,
      labels: node.labels,
      taints: node.taints,
      secrets: {
        caCertPem: secrets.caCertPem,
        joinToken: secrets.joinToken,
        ...(node.role === 'master' ? { caKeyPem: secrets.caKeyPem } : {}),
      },
      nodeCert,
      commonScript: this.bundles.script(bundle, 'common'),
      roleScript: this.bundles.script(bundle, node.role),
      ...(restore ? { restore: { file: RESTORE_FILE, sha256: restore.sha256 } } : {}),
    });
    return buildNoCloudSeed({
      instanceId: node.id,
      hostname: node.name,
      userData,
      ...(restore ? { extraFiles: [{ name: RESTORE_FILE, data: restore.data }] } : {}),
    });
  }
}
