import type { Taint } from '../nodes/node.entity.js';
import type { ClusterSecrets, IssuedCert } from './cluster-pki.js';

export interface BootConfigInput {
  role: 'master' | 'worker';
  /** The node's id: its guest names it in every status answer, so the platform knows who answered. */
  nodeId: string;
  nodeName: string;
  nodeAddress: string;
  clusterName: string;
  clusterId: string;
  bundle: string;
  version: string;
  floatingIp: string | null;
  /** Addresses of the cluster's masters (ready or joining), this node included when a master. */
  masterAddresses: string[];
  /** True for the master that bootstraps a new control plane. */
  initialMaster: boolean;
  gateway: string;
  prefix: number;
  /** The node's labels and taints (its pool's; none on masters), for the bundle to apply. */
  labels: Record<string, string>;
  taints: Taint[];
  secrets: Pick<ClusterSecrets, 'caCertPem' | 'joinToken'> & { caKeyPem?: string };
  nodeCert: IssuedCert;
  commonScript: string;
  roleScript: string;
  /**
   * Create the cluster from a backup: an etcd snapshot (as `etcdctl snapshot save` writes it)
   * that the platform puts on this node's NoCloud seed as an extra file. Only for the initial
   * master; the guest checks the file against `sha256` before it restores it.
   */
  restore?: RestoreSource;
}

export interface RestoreSource {
  /** The extra file's name on the seed, e.g. 'etcd-snapshot.db'. */
  file: string;
  /** Hex SHA-256 of the whole file. */
  sha256: string;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function heredoc(path: string, content: string, mode = '0600'): string {
  const marker = 'KAAS_EOF_7f3a';
  if (content.includes(marker)) throw new Error('file content contains the heredoc marker');
  return `mkdir -p "$(dirname ${shellQuote(path)})"\ncat > ${shellQuote(path)} <<'${marker}'\n${content.replace(/\n$/, '')}\n${marker}\nchmod ${mode} ${shellQuote(path)}`;
}

/** A label or taint key and value as worker pools admit them (see clusters/worker-pools.ts). */
const META_KEY = /^[A-Za-z0-9][-A-Za-z0-9_./]*$/;
const META_VALUE = /^[-A-Za-z0-9_.]*$/;
const TAINT_EFFECT = /^(NoSchedule|PreferNoSchedule|NoExecute)$/;

function checkMeta(what: string, key: string, value: string): void {
  // The guest splits these lines on "=" and ":": anything else would change their meaning.
  if (!META_KEY.test(key) || !META_VALUE.test(value)) throw new Error(`${what} ${JSON.stringify(key)} is not valid`);
}

/** Labels as `key=value` lines (KAAS_NODE_LABELS), in key order so the seed is reproducible. */
function nodeLabelLines(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => {
      checkMeta('label', key, labels[key]);
      return `${key}=${labels[key]}`;
    })
    .join('\n');
}

/** Taints as `key=value:Effect` or `key:Effect` lines (KAAS_NODE_TAINTS), in the pool's order. */
function nodeTaintLines(taints: Taint[]): string {
  return taints
    .map((t) => {
      const value = t.value ?? '';
      checkMeta('taint', t.key, value);
      if (!TAINT_EFFECT.test(t.effect)) throw new Error(`taint ${JSON.stringify(t.key)} has no valid effect`);
      return value === '' ? `${t.key}:${t.effect}` : `${t.key}=${value}:${t.effect}`;
    })
    .join('\n');
}

/** A root-directory name the seed image keeps exactly (see hypervisor/seed/iso9660-names.ts). */
const SEED_FILE_NAME = /^[a-z0-9._-]{1,64}$/;
const NOCLOUD_FILES = new Set(['meta-data', 'user-data', 'network-config']);
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** KAAS_RESTORE_FILE and KAAS_RESTORE_SHA256, after checking that this node may restore. */
function restoreEnv(input: BootConfigInput): Record<string, string> {
  const restore = input.restore;
  if (!restore) return {};
  // Any other node would start a second, diverging cluster from the same data.
  if (input.role !== 'master' || !input.initialMaster) {
    throw new Error('only the initial master restores a snapshot');
  }
  const { file, sha256 } = restore;
  if (!SEED_FILE_NAME.test(file) || file.endsWith('.') || NOCLOUD_FILES.has(file)) {
    throw new Error(`restore file ${JSON.stringify(file)} is not a seed file name of its own`);
  }
  if (!SHA256_HEX.test(sha256)) throw new Error('restore sha256 must be 64 hex digits');
  return { KAAS_RESTORE_FILE: file, KAAS_RESTORE_SHA256: sha256.toLowerCase() };
}

/**
 * The node's user-data: a shell script that sets the node's facts as environment variables,
 * writes its certificates, then runs the bundle's common and role scripts. Every value is
 * quoted; nothing user-given reaches the shell unquoted.
 */
export function buildUserData(input: BootConfigInput): string {
  const env: Record<string, string> = {
    KAAS_ROLE: input.role,
    KAAS_NODE_ID: input.nodeId,
    KAAS_NODE_NAME: input.nodeName,
    KAAS_NODE_IP: input.nodeAddress,
    KAAS_CLUSTER_NAME: input.clusterName,
    KAAS_CLUSTER_ID: input.clusterId,
    KAAS_BUNDLE: input.bundle,
    KAAS_VERSION: input.version,
    KAAS_FLOATING_IP: input.floatingIp ?? '',
    KAAS_MASTERS: input.masterAddresses.join(','),
    KAAS_INITIAL_MASTER: input.initialMaster ? '1' : '0',
    KAAS_GATEWAY: input.gateway,
    KAAS_PREFIX: String(input.prefix),
    KAAS_JOIN_TOKEN: input.secrets.joinToken,
    KAAS_PKI: '/etc/kaas/pki',
    KAAS_BUNDLE_DIR: '/opt/bundle',
    KAAS_STATUS_FILE: '/var/www/status',
  };
  // Only when the node has some: a seed without them reads as "none" to the bundle scripts.
  const labels = nodeLabelLines(input.labels);
  const taints = nodeTaintLines(input.taints);
  if (labels) env.KAAS_NODE_LABELS = labels;
  if (taints) env.KAAS_NODE_TAINTS = taints;
  Object.assign(env, restoreEnv(input));
  const lines = [
    '#!/bin/sh',
    '# Generated by kaas for one node. Secrets below are for this node only.',
    'set -u',
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    heredoc('/etc/kaas/pki/ca.crt', input.secrets.caCertPem, '0644'),
    input.secrets.caKeyPem ? heredoc('/etc/kaas/pki/ca.key', input.secrets.caKeyPem) : '',
    heredoc('/etc/kaas/pki/node.crt', input.nodeCert.certPem, '0644'),
    heredoc('/etc/kaas/pki/node.key', input.nodeCert.keyPem),
    heredoc('/etc/kaas/bundle/common.sh', input.commonScript, '0755'),
    heredoc(`/etc/kaas/bundle/${input.role}.sh`, input.roleScript, '0755'),
    '. /etc/kaas/bundle/common.sh',
    `. /etc/kaas/bundle/${input.role}.sh`,
    '',
  ];
  return lines.filter((l) => l !== '').join('\n');
}
