import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createCertificate, derToPem, pemToDer } from './x509.js';

/** Everything secret about one cluster; stored only encrypted (see ClusterSecretsEntity). */
export interface ClusterSecrets {
  caCertPem: string;
  caKeyPem: string;
  /** Client certificate of the tenant's admin user (kubeconfig, etcdctl). */
  adminCertPem: string;
  adminKeyPem: string;
  /** Shared by nodes joining the cluster (k3s --token; etcd bundle peer bootstrap). */
  joinToken: string;
}

function serial(): Buffer {
  // Positive, 16 bytes: RFC 5280 asks for up to 20 octets and no negative serials.
  return Buffer.concat([Buffer.from([0x01]), randomBytes(15)]);
}

/**
 * New keys are ECDSA P-256, as k3s and kubeadm's ECDSA mode make them: a key takes about 0.1 ms
 * to make, where an RSA-2048 key took a quarter of a CPU-second or more on the libuv thread pool,
 * five per 1 + 2 cluster, which made key generation most of a worker's CPU when many clusters
 * were created at once. CAs of clusters created earlier keep their RSA keys and still sign.
 */
function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

/**
 * Issues a certificate from the cluster CA. Servers get their addresses as IP SANs (for the
 * floating IP and node addresses), clients get clientAuth.
 */
export async function issueCertificate(
  ca: { certPem: string; keyPem: string },
  subject: { commonName: string; organization?: string },
  usage: { server?: boolean; client?: boolean; ips?: string[]; dns?: string[] },
  validDays = 825,
  /** Overrides validDays: a certificate that lasts this many seconds from now. */
  validSeconds?: number,
): Promise<IssuedCert> {
  const keys = newKey();
  const der = createCertificate({
    subject,
    publicKey: keys.publicKey,
    serial: serial(),
    notBefore: new Date(Date.now() - 5 * 60 * 1000),
    notAfter: new Date(Date.now() + (validSeconds ?? validDays * 86400) * 1000),
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: { server: usage.server === true, client: usage.client === true },
    dns: usage.dns,
    ips: usage.ips,
    issuer: { privateKey: createPrivateKey(ca.keyPem), certDer: pemToDer(ca.certPem) },
  });
  return { certPem: derToPem(der), keyPem: keyPem(keys.privateKey) };
}

export async function createClusterSecrets(clusterName: string): Promise<ClusterSecrets> {
  const keys = newKey();
  const caDer = createCertificate({
    subject: { commonName: `kaas-ca-${clusterName}`, organization: 'kaas' },
    publicKey: keys.publicKey,
    serial: serial(),
    notBefore: new Date(Date.now() - 5 * 60 * 1000),
    notAfter: new Date(Date.now() + 10 * 365 * 86400 * 1000),
    ca: true,
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
    issuer: { privateKey: keys.privateKey },
  });
  const caPair = { certPem: derToPem(caDer), keyPem: keyPem(keys.privateKey) };
  const admin = await issueCertificate(
    caPair,
    { commonName: 'kaas-admin', organization: 'system:masters' },
    { client: true },
  );
  return {
    caCertPem: caPair.certPem,
    caKeyPem: caPair.keyPem,
    adminCertPem: admin.certPem,
    adminKeyPem: admin.keyPem,
    joinToken: randomBytes(32).toString('hex'),
  };
}

/** A kubeconfig for the cluster's endpoint, as kubectl expects it. */
/**
 * A kubeconfig for the cluster's endpoint with the given client credential (a certificate issued
 * for one download: see `issueKubeconfigCertificate`).
 */
export function kubeconfigYaml(opts: {
  clusterName: string;
  server: string;
  caCertPem: string;
  client: IssuedCert;
}): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const ctx = `kaas-${opts.clusterName}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${ctx}`,
    '  cluster:',
    `    server: ${opts.server}`,
    `    certificate-authority-data: ${b64(opts.caCertPem)}`,
    'users:',
    `- name: ${ctx}-admin`,
    '  user:',
    `    client-certificate-data: ${b64(opts.client.certPem)}`,
    `    client-key-data: ${b64(opts.client.keyPem)}`,
    'contexts:',
    `- name: ${ctx}`,
    '  context:',
    `    cluster: ${ctx}`,
    `    user: ${ctx}-admin`,
    `current-context: ${ctx}`,
    'preferences: {}',
    '',
  ].join('\n');
}

/** Kubeconfig certificates last a day unless asked otherwise, and at most 30 days. */
export const KUBECONFIG_TTL_DEFAULT_SECONDS = 86400;
export const KUBECONFIG_TTL_MAX_SECONDS = 30 * 86400;
export const KUBECONFIG_TTL_MIN_SECONDS = 60;

/**
 * A client certificate for one kubeconfig download: signed by the cluster's CA, in the cluster
 * administrators' group (`system:masters`), named after the API key (or operator token) that
 * asked (`kaas:<principal>`), so the control plane's audit log says who, valid `ttlSeconds`.
 */
export function issueKubeconfigCertificate(
  secrets: ClusterSecrets,
  principal: string,
  ttlSeconds: number,
): Promise<IssuedCert> {
  return issueCertificate(
    { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
    { commonName: `kaas:${principal}`.slice(0, 64), organization: 'system:masters' },
    { client: true },
    0,
    ttlSeconds,
  );
}
