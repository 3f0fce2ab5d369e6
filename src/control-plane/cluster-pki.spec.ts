import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createClusterSecrets, issueCertificate, issueKubeconfigCertificate, kubeconfigYaml } from './cluster-pki.js';
import { createCertificate, derToPem } from './x509.js';

/** What OpenSSL, a second implementation, makes of a certificate and its chain. */
function openssl(caPem: string, certPem: string): { verify: string; text: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kaas-pki-'));
  writeFileSync(join(dir, 'ca.pem'), caPem);
  writeFileSync(join(dir, 'cert.pem'), certPem);
  const run = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
  return {
    verify: run(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'cert.pem')]),
    text: run(['x509', '-in', join(dir, 'cert.pem'), '-noout', '-text']),
  };
}

describe('cluster PKI', () => {
  let secrets: Awaited<ReturnType<typeof createClusterSecrets>>;
  let ca: X509Certificate;
  beforeAll(async () => {
    secrets = await createClusterSecrets('web');
    ca = new X509Certificate(secrets.caCertPem);
  });

  it('makes a CA and an admin client certificate signed by it', () => {
    expect(ca.ca).toBe(true);
    const admin = new X509Certificate(secrets.adminCertPem);
    expect(admin.checkIssued(ca)).toBe(true);
    expect(admin.verify(ca.publicKey)).toBe(true);
    expect(admin.subject).toContain('CN=kaas-admin');
    expect(secrets.joinToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it('issues server certificates carrying the floating IP as a SAN', async () => {
    const server = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'etcd' },
      { server: true, ips: ['10.250.0.7'], dns: ['localhost'] },
    );
    const x = new X509Certificate(server.certPem);
    expect(x.verify(ca.publicKey)).toBe(true);
    expect(x.subjectAltName).toContain('IP Address:10.250.0.7');
    expect(x.subjectAltName).toContain('DNS:localhost');
  });

  it('makes the secrets of many clusters at once, every one complete and distinct', async () => {
    const many = await Promise.all(['a', 'b', 'c', 'd'].map((n) => createClusterSecrets(n)));
    expect(new Set(many.map((s) => s.caKeyPem)).size).toBe(4);
    for (const s of many) {
      const admin = new X509Certificate(s.adminCertPem);
      expect(admin.verify(new X509Certificate(s.caCertPem).publicKey)).toBe(true);
    }
  });

  it('makes ECDSA P-256 keys, and certificates OpenSSL verifies with the extensions each needs', async () => {
    expect(createPrivateKey(secrets.caKeyPem).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(createPrivateKey(secrets.adminKeyPem).asymmetricKeyType).toBe('ec');
    const caText = openssl(secrets.caCertPem, secrets.caCertPem).text;
    expect(caText).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(caText).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(caText).toMatch(/Subject: O ?= ?kaas, CN ?= ?kaas-ca-web/);
    const server = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'm1' },
      { server: true, client: true, ips: ['10.0.0.2', '127.0.0.1'], dns: ['m1', 'localhost'] },
    );
    const { verify, text } = openssl(secrets.caCertPem, server.certPem);
    expect(verify).toMatch(/: OK/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/DNS:m1, DNS:localhost, IP Address:10.0.0.2, IP Address:127.0.0.1/);
    expect(text).toMatch(/Issuer: O ?= ?kaas, CN ?= ?kaas-ca-web/);
    expect(text).toMatch(/X509v3 Authority Key Identifier/);
    expect(openssl(secrets.caCertPem, secrets.adminCertPem).text).toMatch(
      /Subject: O ?= ?system:masters, CN ?= ?kaas-admin[\s\S]+TLS Web Client Authentication/,
    );
  });

  it('still issues from the RSA CA of a cluster created before keys were ECDSA', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const caPem = derToPem(
      createCertificate({
        subject: { commonName: 'kaas-ca-old', organization: 'kaas' },
        publicKey: rsa.publicKey,
        serial: Buffer.from([1, 2, 3]),
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 86400000),
        ca: true,
        keyUsage: ['keyCertSign', 'cRLSign'],
        issuer: { privateKey: rsa.privateKey },
      }),
    );
    const caKeyPem = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const node = await issueCertificate({ certPem: caPem, keyPem: caKeyPem }, { commonName: 'w1' }, { client: true });
    const { verify, text } = openssl(caPem, node.certPem);
    expect(verify).toMatch(/: OK/);
    expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(new X509Certificate(node.certPem).verify(new X509Certificate(caPem).publicKey)).toBe(true);
  });

  it('writes dates from 2050 on as GeneralizedTime', async () => {
    const far = await issueCertificate(
      { certPem: secrets.caCertPem, keyPem: secrets.caKeyPem },
      { commonName: 'far' },
      { client: true },
      40 * 365,
    );
    const x = new X509Certificate(far.certPem);
    expect(new Date(x.validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2065);
    expect(openssl(secrets.caCertPem, far.certPem).verify).toMatch(/: OK/);
  });

  it('writes a kubeconfig whose server is the endpoint, with a certificate made for it', async () => {
    const client = await issueKubeconfigCertificate(secrets, 'key:0d4c6f3e', 3600);
    const doc = parse(
      kubeconfigYaml({ clusterName: 'web', server: 'https://10.250.0.7:6443', caCertPem: secrets.caCertPem, client }),
    );
    expect(doc['current-context']).toBe('kaas-web');
    expect(doc.clusters[0].cluster.server).toBe('https://10.250.0.7:6443');
    expect(Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(
      secrets.caCertPem,
    );
    const certPem = Buffer.from(doc.users[0].user['client-certificate-data'], 'base64').toString();
    expect(Buffer.from(doc.users[0].user['client-key-data'], 'base64').toString()).toBe(client.keyPem);
    expect(certPem).not.toBe(secrets.adminCertPem);
    const { verify, text } = openssl(secrets.caCertPem, certPem);
    expect(verify).toMatch(/: OK/);
    expect(text).toMatch(/Subject: O ?= ?system:masters, CN ?= ?kaas:key:0d4c6f3e[\s\S]+TLS Web Client Authentication/);
    const x = new X509Certificate(certPem);
    expect(Math.abs(new Date(x.validTo).getTime() - (Date.now() + 3600 * 1000))).toBeLessThan(5000);
  });
});
