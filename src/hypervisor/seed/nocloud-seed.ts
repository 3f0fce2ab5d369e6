/**
 * cloud-init NoCloud seed images: an ISO 9660 volume labelled "cidata" holding
 * meta-data, user-data and network-config in its root directory.
 */
import { buildIso9660, type Iso9660File } from './iso9660.js';

/** cloud-init finds the seed by this filesystem label. */
export const NOCLOUD_VOLUME_ID = 'cidata';

/** Netplan-style v2 config: DHCPv4 on the first NIC whose name starts with "e" (ens3, eth0, enp1s0...). */
export const DEFAULT_NETWORK_CONFIG = [
  'version: 2',
  'ethernets:',
  '  id0:',
  '    match:',
  '      name: "e*"',
  '    dhcp4: true',
  '',
].join('\n');

export interface NoCloudSeed {
  /** Changing it makes cloud-init treat the next boot as a new instance; used as a directory name. */
  instanceId: string;
  /** Single DNS label (RFC 1123), written as `local-hostname`. */
  hostname: string;
  /** Stored verbatim (e.g. a "#cloud-config" document or a script). */
  userData: string;
  /** Stored verbatim; defaults to `DEFAULT_NETWORK_CONFIG`. */
  networkConfig?: string;
  /** More root-directory files (e.g. "vendor-data"); must not reuse the names above. */
  extraFiles?: readonly Iso9660File[];
  /** Fixed timestamp for reproducible images; defaults to now. */
  date?: Date;
}

const RESERVED_NAMES = new Set(['meta-data', 'user-data', 'network-config']);

/** cloud-init uses the id as a path component under /var/lib/cloud/instances, so no '/' or dot-only ids. */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** RFC 1123 label: letters, digits and inner hyphens, at most 63 characters. */
const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Throws unless `instanceId` is safe as a cloud-init instance id. */
export function validateInstanceId(instanceId: string): void {
  if (!INSTANCE_ID.test(instanceId)) {
    throw new Error(
      `invalid instance id ${JSON.stringify(instanceId)}: expected 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit`,
    );
  }
}

/** Throws unless `hostname` is a single DNS label. */
export function validateHostname(hostname: string): void {
  if (!DNS_LABEL.test(hostname)) {
    throw new Error(
      `invalid hostname ${JSON.stringify(hostname)}: expected a DNS label of 1-63 letters, digits or inner hyphens`,
    );
  }
}

/**
 * A YAML double-quoted scalar. JSON string syntax is a subset of YAML's
 * double-quoted style, so this stays correct for values that look like numbers,
 * booleans (`no`, `on`) or contain `:` and `#`.
 */
const yamlQuote = (value: string): string => JSON.stringify(value);

/** The meta-data document cloud-init's NoCloud source reads. */
export function renderMetaData(instanceId: string, hostname: string): string {
  validateInstanceId(instanceId);
  validateHostname(hostname);
  return `instance-id: ${yamlQuote(instanceId)}\nlocal-hostname: ${yamlQuote(hostname)}\n`;
}

/** Builds the seed ISO image for a NoCloud datasource. */
export function buildNoCloudSeed(seed: NoCloudSeed): Buffer {
  const extraFiles = seed.extraFiles ?? [];
  for (const file of extraFiles) {
    if (RESERVED_NAMES.has(file.name)) {
      throw new Error(`extra seed file ${JSON.stringify(file.name)} would replace a generated NoCloud file`);
    }
  }
  const files: Iso9660File[] = [
    { name: 'meta-data', data: renderMetaData(seed.instanceId, seed.hostname) },
    { name: 'user-data', data: seed.userData },
    { name: 'network-config', data: seed.networkConfig ?? DEFAULT_NETWORK_CONFIG },
    ...extraFiles,
  ];
  return buildIso9660({ volumeId: NOCLOUD_VOLUME_ID, files, date: seed.date });
}
