import forge from 'node-forge';
import { constants, generateKeyPair, privateEncrypt, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';

const generateRsa = promisify(generateKeyPair);

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

function serial(): string {
  // Positive, 16 bytes: RFC 5280 asks for up to 20 octets and no negative serials.
  return `01${randomBytes(15).toString('hex')}`;
}

function name(cn: string, org?: string): forge.pki.CertificateField[] {
  return [{ name: 'commonName', value: cn }, ...(org ? [{ name: 'organizationName', value: org }] : [])];
}

/**
 * How many RSA key generations run at once in this process: one per CPU. Each takes a quarter of
 * a CPU-second or more on the libuv thread pool, which the libvirt calls share; a burst of new
 * clusters, one generation per concurrent job (16 per worker), starved those calls and the event
 * loop, and workers missed their host-lease renewals and handed hosts back and forth. Beyond
 * this, generations wait their turn.
 */
const KEYGEN_SLOTS = availableParallelism();
let keygensRunning = 0;
const keygenQueue: (() => void)[] = [];

async function generateRsaPem(): Promise<string> {
  if (keygensRunning < KEYGEN_SLOTS) keygensRunning++;
  // A finishing generation hands its slot straight to the next one in line.
  else await new Promise<void>((resolve) => keygenQueue.push(resolve));
  try {
    const { privateKey } = await generateRsa('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    return privateKey;
  } finally {
    const next = keygenQueue.shift();
    if (next) next();
    else keygensRunning--;
  }
}

/** RSA keys come from Node's native generator on the thread pool: forge's own is far slower. */
async function keyPair(): Promise<{ publicKey: forge.pki.PublicKey; privateKey: forge.pki.rsa.PrivateKey }> {
  const privateKey = await generateRsaPem();
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

/** DER of a PKCS #1 DigestInfo for SHA-256, up to the digest itself (RFC 8017, section 9.2). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A signer in the shape forge's `cert.sign()` calls (`key.sign(md)`, md a SHA-256 digest of the
 * certificate body) that signs with Node's native RSA: forge's own modular arithmetic in
 * JavaScript took about 0.2 s per signature and held the worker's event loop meanwhile.
 */
function nativeSigner(keyPem: string): forge.pki.rsa.PrivateKey {
  const sign = (md: forge.md.MessageDigest) =>
    privateEncrypt(
      { key: keyPem, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')]),
    ).toString('binary');
  return { sign } as unknown as forge.pki.rsa.PrivateKey;
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
): Promise<IssuedCert> {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const keys = await keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + validDays * 86400 * 1000);
  cert.setSubject(name(subject.commonName, subject.organization));
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(usage.dns ?? []).map((value) => ({ type: 2, value })),
    ...(usage.ips ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: usage.server === true, clientAuth: usage.client === true },
    ...(altNames.length ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  cert.sign(nativeSigner(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

export async function createClusterSecrets(clusterName: string): Promise<ClusterSecrets> {
  const keys = await keyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = keys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = new Date(Date.now() - 5 * 60 * 1000);
  ca.validity.notAfter = new Date(Date.now() + 10 * 365 * 86400 * 1000);
  const subject = name(`kaas-ca-${clusterName}`, 'kaas');
  ca.setSubject(subject);
  ca.setIssuer(subject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const caKeyPem = forge.pki.privateKeyToPem(keys.privateKey);
  ca.sign(nativeSigner(caKeyPem), forge.md.sha256.create());
  const caPair = { certPem: forge.pki.certificateToPem(ca), keyPem: caKeyPem };
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
export function kubeconfigYaml(opts: { clusterName: string; server: string; secrets: ClusterSecrets }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const ctx = `kaas-${opts.clusterName}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${ctx}`,
    '  cluster:',
    `    server: ${opts.server}`,
    `    certificate-authority-data: ${b64(opts.secrets.caCertPem)}`,
    'users:',
    `- name: ${ctx}-admin`,
    '  user:',
    `    client-certificate-data: ${b64(opts.secrets.adminCertPem)}`,
    `    client-key-data: ${b64(opts.secrets.adminKeyPem)}`,
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
