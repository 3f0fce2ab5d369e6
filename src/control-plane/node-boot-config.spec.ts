import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { buildUserData, type BootConfigInput } from './node-boot-config.js';

const base: BootConfigInput = {
  role: 'master',
  nodeId: '7d3c1f2e-0000-4000-8000-000000000001',
  nodeName: 'web-master-0',
  nodeAddress: '10.0.0.2',
  clusterName: 'web',
  clusterId: 'c1',
  bundle: 'etcd',
  version: 'v3.4.23',
  floatingIp: '10.250.0.2',
  masterAddresses: ['10.0.0.2'],
  initialMaster: true,
  gateway: '10.0.0.1',
  prefix: 24,
  labels: {},
  taints: [],
  secrets: { caCertPem: 'CA', joinToken: 'tok' },
  nodeCert: { certPem: 'CERT', keyPem: 'KEY' },
  commonScript: 'echo common',
  roleScript: 'echo "role $KAAS_ROLE on $KAAS_NODE_IP"',
};

describe('buildUserData', () => {
  it('is a shell script that sets the facts and runs the bundle scripts', () => {
    const script = buildUserData(base);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(() => execFileSync('sh', ['-n'], { input: script })).not.toThrow();
  });

  it('quotes hostile values so the shell sees them as data', () => {
    const script = buildUserData({
      ...base,
      clusterName: `x'; touch /tmp/pwned; echo '`,
      roleScript: 'printf %s "$KAAS_CLUSTER_NAME"',
    });
    // Run only the export lines and the role line, with files redirected into a temp root.
    const exports = script.split('\n').filter((l) => l.startsWith('export '));
    const out = execFileSync('sh', ['-c', `${exports.join('\n')}\nprintf %s "$KAAS_CLUSTER_NAME"`]).toString();
    expect(out).toBe(`x'; touch /tmp/pwned; echo '`);
  });

  it("passes the node's labels and taints as lines the guest reads one by one", () => {
    const script = buildUserData({
      ...base,
      role: 'worker',
      labels: { tier: 'web', 'example.com/gpu': 'a100', 'node.kubernetes.io/spot': '' },
      taints: [
        { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
        { key: 'example.com/preempt', effect: 'NoExecute' },
        { key: 'empty', value: '', effect: 'PreferNoSchedule' },
      ],
    });
    expect(() => execFileSync('sh', ['-n'], { input: script })).not.toThrow();
    // The facts, as the shell sees them before the bundle scripts run.
    const facts = script.slice(0, script.indexOf('\nmkdir -p'));
    const read = (name: string): string => execFileSync('sh', ['-c', `${facts}\nprintf %s "$${name}"`]).toString();
    expect(read('KAAS_NODE_LABELS')).toBe('example.com/gpu=a100\nnode.kubernetes.io/spot=\ntier=web');
    expect(read('KAAS_NODE_TAINTS')).toBe(
      'dedicated=gpu:NoSchedule\nexample.com/preempt:NoExecute\nempty:PreferNoSchedule',
    );
  });

  it('sets no label or taint variables for a node without any', () => {
    const script = buildUserData(base);
    expect(script).not.toMatch(/KAAS_NODE_LABELS|KAAS_NODE_TAINTS/);
  });

  it('refuses labels and taints that would not read back as the same lines', () => {
    expect(() => buildUserData({ ...base, labels: { 'a\nb': 'c' } })).toThrow(/label/);
    expect(() => buildUserData({ ...base, labels: { a: 'b=c' } })).toThrow(/label/);
    expect(() => buildUserData({ ...base, labels: { a: "x'; reboot; '" } })).toThrow(/label/);
    expect(() => buildUserData({ ...base, taints: [{ key: 'a:b', effect: 'NoSchedule' }] })).toThrow(/taint/);
    expect(() => buildUserData({ ...base, taints: [{ key: 'a', effect: 'Sometimes' as 'NoSchedule' }] })).toThrow(
      /effect/,
    );
  });

  describe('restore from a snapshot', () => {
    const sha256 = 'AB'.repeat(32);
    const restore = { file: 'etcd-snapshot.db', sha256 };
    const facts = (script: string): string => script.slice(0, script.indexOf('\nmkdir -p'));
    const read = (script: string, name: string): string =>
      execFileSync('sh', ['-c', `${facts(script)}\nprintf %s "\${${name}-unset}"`]).toString();

    it('tells the initial master which seed file to restore and its checksum (lower-case hex)', () => {
      const script = buildUserData({ ...base, restore });
      expect(() => execFileSync('sh', ['-n'], { input: script })).not.toThrow();
      expect(read(script, 'KAAS_RESTORE_FILE')).toBe('etcd-snapshot.db');
      expect(read(script, 'KAAS_RESTORE_SHA256')).toBe('ab'.repeat(32));
    });

    it('sets no restore variables without a backup', () => {
      const script = buildUserData(base);
      expect(read(script, 'KAAS_RESTORE_FILE')).toBe('unset');
      expect(script).not.toMatch(/KAAS_RESTORE_/);
    });

    it('refuses a restore on any node but the initial master', () => {
      expect(() => buildUserData({ ...base, initialMaster: false, restore })).toThrow(/initial master/);
      expect(() => buildUserData({ ...base, role: 'worker', initialMaster: false, restore })).toThrow(/initial master/);
      expect(() => buildUserData({ ...base, role: 'worker', restore })).toThrow(/initial master/);
    });

    it('refuses file names the seed cannot carry as given and checksums that are not SHA-256 hex', () => {
      for (const file of [
        '',
        '../etc/passwd',
        'a/b',
        'Snap.db',
        'snap.',
        'user-data',
        'meta-data',
        "x'y",
        'a'.repeat(65),
      ]) {
        expect(() => buildUserData({ ...base, restore: { file, sha256 } })).toThrow(/restore file/);
      }
      for (const bad of ['', 'ab'.repeat(31), 'ab'.repeat(33), `${'ab'.repeat(31)}zz`, `${'ab'.repeat(32)}\n`]) {
        expect(() => buildUserData({ ...base, restore: { file: 'etcd-snapshot.db', sha256: bad } })).toThrow(/sha256/);
      }
    });
  });

  it('refuses content that could end its heredoc early', () => {
    expect(() => buildUserData({ ...base, commonScript: 'KAAS_EOF_7f3a\nrm -rf /' })).toThrow(/heredoc marker/);
  });
});
