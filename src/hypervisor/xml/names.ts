import { createHash } from 'node:crypto';

/**
 * Names of libvirt objects are derived from platform ids, never from user input, so they are
 * always valid and unique; user-given names appear only inside escaped metadata.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkId(id: string): string {
  if (!UUID.test(id)) throw new Error(`not a platform id: ${JSON.stringify(id).slice(0, 60)}`);
  return id;
}

export const LIBVIRT_PREFIX = 'kaas-';

/** The prefixes of names that carry an owner's id; `ownerOf` reads the id back. */
const PREFIX = {
  domain: 'kaas-node-',
  storagePool: 'kaas-pool-',
  bundleVolume: 'kaas-bundle-',
} as const;

export const libvirtNames = {
  domain: (nodeId: string) => `${PREFIX.domain}${checkId(nodeId)}`,
  nodeVolume: (nodeId: string) => `kaas-node-${checkId(nodeId)}.qcow2`,
  seedVolume: (nodeId: string) => `kaas-seed-${checkId(nodeId)}.iso`,
  storagePool: (poolId: string) => `${PREFIX.storagePool}${checkId(poolId)}`,
  platformPool: () => 'kaas-platform',
  /** A bundle's artifacts as a read-only disk, shared by the nodes of a host. */
  bundleVolume: (bundle: string, version: string, digest: string) =>
    `${PREFIX.bundleVolume}${`${bundle}-${version}-${digest}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}.iso`,
};

function idAfter(prefix: string, name: string): string | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const id = name.slice(prefix.length);
  return UUID.test(id) ? id : undefined;
}

/** The owner id a platform name carries, or undefined for a name of another kind (or not ours). */
export const ownerOf = {
  domain: (name: string) => idAfter(PREFIX.domain, name),
  storagePool: (name: string) => idAfter(PREFIX.storagePool, name),
  isBundleVolume: (name: string) => name.startsWith(PREFIX.bundleVolume),
};

/** A locally administered unicast MAC (52:54:00 is qemu's prefix) derived from an id. */
export function macFor(id: string, salt = ''): string {
  const h = createHash('sha256')
    .update(`${checkId(id)}${salt}`)
    .digest();
  return ['52', '54', '00', h[0], h[1], h[2]]
    .map((b) => (typeof b === 'number' ? b.toString(16).padStart(2, '0') : b))
    .join(':');
}
