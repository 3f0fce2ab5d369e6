import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ClusterSecretsStore } from '../../src/control-plane/cluster-secrets.store.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { ROOT, waitFor } from '../support/processes.js';
import { createTenant, type Client } from '../support/test-app.js';
import {
  type OvnHosts,
  ovnSettings,
  run,
  startOvnHosts,
  useRealHosts,
  vmEnv,
  vpcProbe,
  type VpcProbe,
} from './vm-support.js';

jest.setTimeout(900000);

/**
 * A stand-in k3s (k3s itself is not on these machines' package registries): it records how it
 * was started (argv, environment, what was on disk) under /var/www/k3s-rec, which the guest
 * serves on :8099, and acts just enough like k3s for the bundle's readiness checks: a server
 * listens on :6443 and answers `kubectl get --raw=/readyz`; an agent serves the kubelet's
 * healthz on 127.0.0.1:10248.
 */
const STANDIN = `#!/bin/sh
REC=/var/www/k3s-rec
D=/var/lib/rancher/k3s
mkdir -p $REC
case "\${1:-}" in
  server | agent)
    n=$(($(cat $REC/starts 2>/dev/null || echo 0) + 1))
    echo $n >$REC/starts
    : >$REC/argv.$n
    for a in "$@"; do printf '%s\\n' "$a" >>$REC/argv.$n; done
    env | sort >$REC/env.$n
    prev=
    for a in "$@"; do
      [ "$prev" = --token-file ] && echo "$(stat -c '%a %U' "$a") $(sha256sum <"$a" | cut -d' ' -f1)" >$REC/token-file.$n
      prev=$a
    done
    for f in server-ca.crt server-ca.key client-ca.crt client-ca.key; do
      if [ -f $D/server/tls/$f ]; then
        echo "$f $(sha256sum <$D/server/tls/$f | cut -d' ' -f1) $(stat -c %a $D/server/tls/$f)"
      else
        echo "$f missing"
      fi
    done >$REC/tls-at-start.$n
    for f in $D/agent/images/*; do [ -f "$f" ] && echo "\${f##*/} $(sha256sum <"$f" | cut -d' ' -f1)"; done \\
      >$REC/images-at-start.$n 2>/dev/null
    if [ "$1" = server ]; then
      kc=/etc/rancher/k3s/k3s.yaml prev=
      for a in "$@"; do [ "$prev" = --write-kubeconfig ] && kc=$a; prev=$a; done
      mkdir -p "$(dirname "$kc")" $D/server/db $D/server/www
      busybox httpd -p 6443 -h $D/server/www
      printf 'apiVersion: v1\\nkind: Config\\n# stand-in\\n' >"$kc"
    else
      mkdir -p $D/agent/hz
      echo ok >$D/agent/hz/healthz
      busybox httpd -p 127.0.0.1:10248 -h $D/agent/hz
      printf 'apiVersion: v1\\nkind: Config\\n# stand-in kubelet\\n' >$D/agent/kubelet.kubeconfig
    fi
    trap 'exit 0' TERM INT
    while :; do sleep 1; done
    ;;
  kubectl)
    echo "$*" >>$REC/kubectl.log
    case " $* " in
      *" --raw=/readyz "*) echo ok ;;
      *" get node "*) printf True ;;
      *) echo "stand-in k3s: unsupported kubectl $*" >&2; exit 1 ;;
    esac
    ;;
  *) echo "stand-in k3s: unsupported: $*" >&2; exit 1 ;;
esac
`;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The k3s bundle's recipe on real guests, through the product: a k3s-bundle cluster of 1 master
 * and 1 worker whose k3s is the stand-in above. The platform delivers the bundle volume, the
 * seed runs the bundle's scripts, and the test reads back how k3s was started on each node.
 */
describe('the k3s recipe on real VMs (stand-in k3s)', () => {
  const { imageDir, dataDir } = vmEnv();
  let p: Platform;
  let tenant: Client;
  let clusterId: string;
  let floatingIp: string;
  let bundlesDir: string;
  let ovn: OvnHosts;
  let vpcId: string;
  let probe: VpcProbe | undefined;
  const imagesTar = randomBytes(256 * 1024);

  beforeAll(async () => {
    // A bundles folder holding the repo's k3s bundle with the stand-in as its artifact.
    bundlesDir = mkdtempSync(join(tmpdir(), 'kaas-k3s-bundles-'));
    const k3s = join(bundlesDir, 'k3s');
    cpSync(join(ROOT, 'bundles', 'k3s'), k3s, { recursive: true });
    mkdirSync(join(k3s, 'artifacts'), { recursive: true });
    writeFileSync(join(k3s, 'artifacts', 'k3s'), STANDIN, { mode: 0o755 });
    writeFileSync(join(k3s, 'artifacts', 'k3s-airgap-images-amd64.tar.zst'), imagesTar);
    writeFileSync(
      join(k3s, 'artifacts', 'SHA256SUMS'),
      `${sha256(STANDIN)}  k3s\n${sha256(imagesTar)}  k3s-airgap-images-amd64.tar.zst\n`,
    );

    mkdirSync(join(dataDir, 'host'), { recursive: true });
    ovn = await startOvnHosts();
    p = await startPlatform({
      ...ovnSettings(ovn),
      KAAS_BUNDLES_DIR: bundlesDir,
      KAAS_HOST_DATA_DIR: join(dataDir, 'host'),
      KAAS_SIM_BOOT_MS: '0',
      KAAS_REQUEUE_MS: '2000',
      KAAS_HEALTH_INTERVAL_SECONDS: '5',
      KAAS_RESYNC_SECONDS: '5',
      KAAS_JOB_LOCK_MS: '120000',
    });
    await useRealHosts(p, [{ name: 'real-k3s', uri: 'qemu:///system', chassis: ovn.hosts[0].chassis }], imageDir);
    await p.admin.call('POST', '/v1/floating-ip-ranges', { start: '10.250.0.40', end: '10.250.0.47' });
    tenant = (await createTenant(p, 'k3s')).client;
  });

  afterAll(async () => {
    await probe?.remove();
    await p?.close();
    if (ovn?.startedHere) await ovn.stop();
    if (bundlesDir) rmSync(bundlesDir, { recursive: true, force: true });
  });

  // The guests' recorder is read from inside the VPC: the platform's side has no route into it.
  const fetchText = async (address: string, path: string) => {
    probe ??= await vpcProbe(ovn, ovn.hosts[0], vpcId, '10.62.0.200');
    return probe.fetchText(`http://${address}:8099${path}`);
  };
  const lines = (text: string) => text.split('\n').filter(Boolean);
  const after = (argv: string[], flag: string) => argv.filter((_, i) => argv[i - 1] === flag);

  it('boots a k3s-bundle cluster of 1 master + 1 worker to Running', async () => {
    const vpc = (await tenant.call('POST', '/v1/vpcs', { name: 'net', cidr: '10.62.0.0/24' })).body;
    vpcId = vpc.id;
    const pool = (await tenant.call('POST', '/v1/storage-pools', { name: 'disks', capacityGiB: 50 })).body;
    const fip = (await tenant.call('POST', '/v1/floating-ips', {})).body;
    floatingIp = fip.address;
    const res = await tenant.call('POST', '/v1/clusters', {
      name: 'k3s',
      controlPlane: 'k3s',
      masters: 1,
      workers: 1,
      nodeSpec: { vcpus: 1, memoryMiB: 512, diskGiB: 2 },
      vpcId: vpc.id,
      storagePoolId: pool.id,
      floatingIpId: fip.id,
    });
    expect(res.status).toBe(202);
    clusterId = res.body.id;
    const running = await waitFor(
      'the k3s cluster to be Running',
      async () => {
        const c = (await tenant.call('GET', `/v1/clusters/${clusterId}`)).body;
        return c.phase === 'Running' && c.nodeCounts.ready === 2 ? c : undefined;
      },
      600000,
      1000,
    );
    expect(running.endpoint).toBe(`https://${floatingIp}:6443`);
  });

  it('started k3s on each node the way the recipe says', async () => {
    const nodes = (await tenant.call('GET', `/v1/clusters/${clusterId}/nodes`)).body.items as {
      role: string;
      name: string;
      address: string;
    }[];
    const master = nodes.find((n) => n.role === 'master')!;
    const worker = nodes.find((n) => n.role === 'worker')!;
    const secrets = (await p.app.get(ClusterSecretsStore).get(clusterId))!;
    const kube = parse(String((await tenant.call('GET', `/v1/clusters/${clusterId}/kubeconfig`)).body));
    const caPem = Buffer.from(kube.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
    expect(caPem).toBe(secrets.caCertPem);

    // The initial master: k3s server with embedded etcd, the platform's CA installed first.
    const m = lines(await fetchText(master.address, '/k3s-rec/argv.1'));
    expect(await fetchText(master.address, '/k3s-rec/starts')).toBe('1\n');
    expect(m[0]).toBe('server');
    expect(m).toContain('--cluster-init');
    expect(m).not.toContain('--server');
    // The join token reaches k3s in a root-only file, not in argv (visible to every user's ps).
    expect(m).not.toContain('--token');
    expect(await fetchText(master.address, '/k3s-rec/token-file.1')).toBe(
      `600 root ${sha256(`${secrets.joinToken}\n`)}\n`,
    );
    expect(m.join('\n')).not.toContain(secrets.joinToken);
    expect(after(m, '--tls-san')).toEqual(expect.arrayContaining([floatingIp, master.address]));
    expect(after(m, '--node-ip')).toEqual([master.address]);
    expect(after(m, '--node-name')).toEqual([master.name]);
    const tls = await fetchText(master.address, '/k3s-rec/tls-at-start.1');
    expect(tls).toContain(`server-ca.crt ${sha256(secrets.caCertPem)} 644`);
    expect(tls).toContain(`client-ca.crt ${sha256(secrets.caCertPem)} 644`);
    expect(tls).toContain(`server-ca.key ${sha256(secrets.caKeyPem)} 600`);
    expect(await fetchText(master.address, '/k3s-rec/images-at-start.1')).toBe(
      `k3s-airgap-images-amd64.tar.zst ${sha256(imagesTar)}\n`,
    );
    // Nor is it in k3s's environment.
    const menv = await fetchText(master.address, '/k3s-rec/env.1');
    expect(menv).not.toContain(secrets.joinToken);
    expect(await fetchText(master.address, '/k3s-rec/kubectl.log')).toMatch(/get --raw=\/readyz/);

    // The worker: a k3s agent joining through a server that answers on :6443, with the token.
    const w = lines(await fetchText(worker.address, '/k3s-rec/argv.1'));
    expect(w[0]).toBe('agent');
    expect([`https://${floatingIp}:6443`, `https://${master.address}:6443`]).toContain(after(w, '--server')[0]);
    expect(await fetchText(worker.address, '/k3s-rec/token-file.1')).toBe(
      `600 root ${sha256(`${secrets.joinToken}\n`)}\n`,
    );
    expect(await fetchText(worker.address, '/k3s-rec/env.1')).not.toContain(secrets.joinToken);
    expect(after(w, '--node-ip')).toEqual([worker.address]);
    expect(after(w, '--node-name')).toEqual([worker.name]);
    expect(w).not.toContain('--cluster-init');
    expect(w).not.toContain('--tls-san');
    const wtls = await fetchText(worker.address, '/k3s-rec/tls-at-start.1');
    expect(wtls).toContain('server-ca.key missing'); // no CA key on a worker
    expect(await fetchText(worker.address, '/k3s-rec/images-at-start.1')).toBe(
      `k3s-airgap-images-amd64.tar.zst ${sha256(imagesTar)}\n`,
    );
  });

  it('deletes the cluster and leaves nothing on the host', async () => {
    await tenant.call('DELETE', `/v1/clusters/${clusterId}`);
    await waitFor(
      'the cluster to go',
      async () => (await tenant.call('GET', `/v1/clusters/${clusterId}`)).status === 404,
      600000,
      1000,
    );
    const { stdout } = await run('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name']);
    expect(stdout.split('\n').filter((n) => n.startsWith('kaas-node-'))).toEqual([]);
  });
});
