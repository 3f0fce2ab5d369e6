import { Injectable } from '@nestjs/common';
import { Database, type Tx } from '../common/database.js';
import { SecretBox } from '../common/secret-box.js';
import { type ClusterSecrets, createClusterSecrets } from './cluster-pki.js';
import { ClusterSecretsEntity } from './cluster-secrets.entity.js';

/**
 * A cluster's CA, admin credential and join token: made once, stored sealed (AES-256-GCM under
 * the platform's current secret key, bound to the cluster id), and opened only here (and by a
 * key rotation, which seals them again under a new key).
 */
@Injectable()
export class ClusterSecretsStore {
  /** Clusters whose secrets this process has seen stored: they never change once made. */
  private readonly known = new Set<string>();

  constructor(
    private readonly box: SecretBox,
    private readonly db: Database,
  ) {}

  /** The cluster's secrets, or null while they are not made yet. */
  async get(clusterId: string, tx?: Tx): Promise<ClusterSecrets | null> {
    const row = await (tx ?? this.db.manager).getRepository(ClusterSecretsEntity).findOneBy({ clusterId });
    if (!row) return null;
    this.remember(clusterId);
    return JSON.parse(this.box.open(row.sealed, clusterId)) as ClusterSecrets;
  }

  /** Makes the cluster's secrets unless they exist; true when this call made them. */
  async ensure(cluster: { id: string; name: string }): Promise<boolean> {
    if (this.known.has(cluster.id)) return false;
    const exists = await this.db.manager.getRepository(ClusterSecretsEntity).existsBy({ clusterId: cluster.id });
    if (!exists) {
      const sealed = this.box.seal(JSON.stringify(await createClusterSecrets(cluster.name)), cluster.id);
      // Two passes may race here: the first one's secrets stay, the second one's are dropped.
      const inserted: unknown[] = await this.db.manager.query(
        `INSERT INTO cluster_secrets (cluster_id, sealed) VALUES ($1, $2) ON CONFLICT (cluster_id) DO NOTHING RETURNING cluster_id`,
        [cluster.id, sealed],
      );
      this.remember(cluster.id);
      return inserted.length > 0;
    }
    this.remember(cluster.id);
    return false;
  }

  forget(clusterId: string): void {
    this.known.delete(clusterId);
  }

  private remember(clusterId: string): void {
    // Bounded: past this many, it starts over (a forgotten cluster costs one query to relearn).
    if (this.known.size >= 100000) this.known.clear();
    this.known.add(clusterId);
  }
}
