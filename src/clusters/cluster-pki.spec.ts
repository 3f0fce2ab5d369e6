import { beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { parse } from 'yaml';
import { createClusterSecrets, issueCertificate, kubeconfigYaml } from './cluster-pki.js';

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

  it('writes a kubeconfig whose server is the endpoint', () => {
    const doc = parse(kubeconfigYaml({ clusterName: 'web', server: 'https://10.250.0.7:6443', secrets }));
    expect(doc['current-context']).toBe('kaas-web');
    expect(doc.clusters[0].cluster.server).toBe('https://10.250.0.7:6443');
    expect(Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(
      secrets.caCertPem,
    );
    expect(Buffer.from(doc.users[0].user['client-key-data'], 'base64').toString()).toBe(secrets.adminKeyPem);
  });
});
