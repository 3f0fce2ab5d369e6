import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { request, createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { LibvirtHostBackend } from '../../src/hypervisor/backends/index.js';
import { ChannelGuestProbe } from '../../src/hypervisor/backends/guest-status-channel.js';
import { LibvirtConnection } from '../../src/hypervisor/libvirt/index.js';
import { buildNoCloudSeed } from '../../src/hypervisor/seed/index.js';
import { libvirtNames, macFor } from '../../src/hypervisor/xml/names.js';
import { derivedMac } from '../../src/networks/ovn/ovn-names.js';
import { OvnNetworkController } from '../../src/networks/ovn/ovn-network-controller.js';
import { OvsdbClient } from '../../src/networks/ovn/ovsdb-client.js';
import { consoleText, type OvnHosts, run, startOvnHosts, vmEnv, testImageBoot } from './vm-support.js';

/*
 * OVN on the two real hosts of the suite, carrying real guests: each host runs Open vSwitch
 * (userspace datapath) and ovn-controller, the first also the central databases and ovn-northd,
 * joined by Geneve (`vmenv.sh ovn-up`). The network is written by the platform's
 * OvnNetworkController (no ovn-nbctl): one VPC with a router, egress SNAT and a provider network,
 * a port per guest, and a cluster endpoint as a load balancer on a floating IP. libvirt plugs each
 * guest's NIC into br-int with an openvswitch virtualport. The guests check the datapath from the
 * inside (their user-data) and report over the status channel; the test checks it from the
 * outside (the first namespace, which stands for the provider network).
 */

const VPC_CIDR = '10.42.0.0/24';
const ROUTER_IP = '10.42.0.1';
const MTU = 1442;
const ENDPOINT_PORT = 2379;
/** Served by the test process on the provider address, for the guests' egress check. */
const OUTSIDE_PORT = 8080;

const HOST1_URI = process.env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';
const HOST2_URI = process.env.KAAS_SECOND_HOST_URI;

interface Guest {
  name: string;
  nodeId: string;
  mac: string;
  ip: string;
  peerIp: string;
  /** In the domain's XML too, so libvirt's MTU on an Open vSwitch port is exercised; DHCP sends it anyway. */
  xmlMtu?: number;
  poolId: string;
  conn?: LibvirtConnection;
  backend?: LibvirtHostBackend;
  consoleLog: string;
  startedAt: number;
}

const ids = { tenantId: randomUUID(), vpcId: randomUUID(), clusterId: randomUUID(), rangeId: randomUUID() };

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One GET on a new connection; '' when nothing answered in time. */
function httpGet(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body.trim()));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
    req.end();
  });
}

/** Whether a TCP connection to host:port is accepted within the time. */
function tcpOpens(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The guest's checks, run once it has its lease: its httpd on the endpoint port, then ping and
 * HTTP to the other guest across the tunnel, then ping and HTTP to the outside through SNAT.
 * Results go to the console as `OVNTEST` lines and, as details, to the status file that the
 * status channel carries.
 */
function userData(g: Guest, provider: string): string {
  const status =
    `{"stage":"ready","ready":true,"message":"ovn checks done","details":{"nodeId":"${g.nodeId}",` +
    `"ip":"%s","router":"%s","dhcpMtu":"%s","linkMtu":"%s","peerPing":"%s","peerRtt":"%s","peerHttp":"%s",` +
    `"providerPing":"%s","providerHttp":"%s","uptime":"%s"}}\\n`;
  return [
    '#!/bin/sh',
    'nic=$(cat /run/kaas/nic)',
    '. /run/kaas/net.env',
    'dhcp_mtu=$mtu',
    'link_mtu=$(cat /sys/class/net/$nic/mtu)',
    'echo "OVNTEST lease ip=$ip router=$router dhcp_mtu=$dhcp_mtu link_mtu=$link_mtu"',
    `mkdir -p /run/ep && echo ${g.name} >/run/ep/index.html && httpd -p ${ENDPOINT_PORT} -h /run/ep`,
    'clean() { head -1 | tr -cd "A-Za-z0-9._:-"; }',
    // the other guest may still be booting: up to two minutes
    'n=0',
    `until ping -c 1 -W 1 ${g.peerIp} >/dev/null 2>&1; do n=$((n + 1)); [ $n -ge 120 ] && break; done`,
    'peer_ping=ok; [ $n -ge 120 ] && peer_ping=fail',
    `peer_rtt=$(ping -c 5 -W 1 ${g.peerIp} | sed -n 's#^round-trip min/avg/max = \\([0-9./]*\\) ms#\\1#p')`,
    // its httpd starts a moment after its lease
    'peer_http=; n=0',
    `while [ -z "$peer_http" ] && [ $n -lt 10 ]; do peer_http=$(timeout 3 wget -qO- http://${g.peerIp}:${ENDPOINT_PORT}/ 2>/dev/null | clean); n=$((n + 1)); [ -n "$peer_http" ] || sleep 1; done`,
    // The first packets through the other host's gateway may be lost while its flows settle.
    'provider_ping=fail; n=0',
    `while [ $provider_ping = fail ] && [ $n -lt 10 ]; do ping -c 1 -W 2 ${provider} >/dev/null 2>&1 && provider_ping=ok; n=$((n + 1)); done`,
    'provider_http=; n=0',
    `while [ -z "$provider_http" ] && [ $n -lt 5 ]; do provider_http=$(timeout 3 wget -qO- http://${provider}:${OUTSIDE_PORT}/${g.name} 2>/dev/null | clean); n=$((n + 1)); [ -n "$provider_http" ] || sleep 1; done`,
    'up=$(cut -d" " -f1 /proc/uptime)',
    'echo "OVNTEST peer ping=$peer_ping rtt=$peer_rtt http=$peer_http provider ping=$provider_ping http=$provider_http uptime=$up"',
    `printf '${status}' "$ip" "$router" "$dhcp_mtu" "$link_mtu" "$peer_ping" "$peer_rtt" "$peer_http" "$provider_ping" "$provider_http" "$up" >/var/www/status.tmp`,
    'mv /var/www/status.tmp /var/www/status',
    '',
  ].join('\n');
}

describe('OVN on two real hosts: guests plugged into br-int by libvirt, network written by the controller', () => {
  const { imageDir, dataDir } = vmEnv();
  let ovn: OvnHosts | undefined;
  let nb: OvsdbClient | undefined;
  let controller: OvnNetworkController;
  let outside: Server | undefined;
  const outsideSources: string[] = [];
  let provider = '';
  let floatingIp = '';
  let routerProviderIp = '';
  const g1: Guest = {
    name: 'ovn-g1',
    nodeId: randomUUID(),
    mac: '',
    ip: '10.42.0.11',
    peerIp: '10.42.0.12',
    poolId: randomUUID(),
    consoleLog: '',
    startedAt: 0,
  };
  const g2: Guest = {
    ...g1,
    name: 'ovn-g2',
    nodeId: randomUUID(),
    ip: '10.42.0.12',
    peerIp: '10.42.0.11',
    xmlMtu: MTU,
  };
  g2.poolId = randomUUID();
  const guests = [g1, g2];
  for (const g of guests) {
    g.mac = macFor(g.nodeId);
    g.consoleLog = join(dataDir, `${g.nodeId}.console.log`);
  }
  const poolDir = (g: Guest) => join(dataDir, 'pools', g.poolId);
  const domainOf = (g: Guest) => libvirtNames.domain(g.nodeId);
  const statusOf = async (g: Guest) => {
    const r = await g.backend!.probeGuest({ domainName: domainOf(g), address: null, nodeId: g.nodeId });
    return r.answered && r.status.stage === 'ready' ? (r.status.details as Record<string, string>) : undefined;
  };
  const reports: Record<string, Record<string, string>> = {};
  const figures: string[] = [];

  beforeAll(async () => {
    if (!HOST2_URI) throw new Error('needs KAAS_SECOND_HOST_URI (scripts/test-vm.sh starts the second host)');
    let t = Date.now();
    ovn = await startOvnHosts();
    figures.push(`OVN on both hosts ${ovn.startedHere ? 'started' : 'already up'} in ${Date.now() - t} ms`);
    const [h1] = ovn.hosts;
    const m = /^(\d+\.\d+\.\d+)\.(\d+)\/24$/.exec(ovn.providerAddress);
    if (!m) throw new Error(`the test expects a /24 provider address, not ${ovn.providerAddress}`);
    provider = `${m[1]}.${m[2]}`;
    floatingIp = `${m[1]}.20`;
    routerProviderIp = `${m[1]}.10`;

    // The outside: answers with the address the request came from (SNAT makes it the router's).
    outside = createServer((req, res) => {
      outsideSources.push(req.socket.remoteAddress ?? '');
      res.end('outside\n');
    });
    await new Promise<void>((resolve, reject) => {
      outside!.once('error', reject);
      outside!.listen(OUTSIDE_PORT, provider, () => resolve());
    });

    t = Date.now();
    nb = await OvsdbClient.connect(ovn.nb);
    controller = new OvnNetworkController(nb);
    await controller.ensureProvider({ rangeId: ids.rangeId, cidr: `${m[1]}.0/24`, physnet: ovn.physnet });
    await controller.ensureVpc({
      vpcId: ids.vpcId,
      tenantId: ids.tenantId,
      cidr: VPC_CIDR,
      mtu: MTU,
      dns: [],
      egress: true,
      gateway: {
        rangeId: ids.rangeId,
        mac: derivedMac(`gateway:${ids.vpcId}`),
        networks: [`${routerProviderIp}/24`],
        chassis: [{ name: h1.chassis, priority: 10 }],
      },
    });
    for (const g of guests) {
      await controller.ensurePort({
        nodeId: g.nodeId,
        vpcId: ids.vpcId,
        tenantId: ids.tenantId,
        clusterId: ids.clusterId,
        mac: g.mac,
        ip: g.ip,
      });
    }
    await controller.ensureEndpoint({
      clusterId: ids.clusterId,
      vpcId: ids.vpcId,
      tenantId: ids.tenantId,
      vpcCidr: VPC_CIDR,
      floatingIp,
      port: ENDPOINT_PORT,
      backends: guests.map((g) => ({ nodeId: g.nodeId, ip: g.ip })),
    });
    figures.push(`Northbound written in ${Date.now() - t} ms (${controller.transactions.writes} writes)`);

    for (const [i, g] of guests.entries()) {
      g.conn = await LibvirtConnection.open(i === 0 ? HOST1_URI : HOST2_URI);
      g.backend = new LibvirtHostBackend(g.conn, new ChannelGuestProbe(g.conn));
      const pool = libvirtNames.storagePool(g.poolId);
      const seedVolume = libvirtNames.seedVolume(g.nodeId);
      mkdirSync(poolDir(g), { recursive: true });
      rmSync(g.consoleLog, { force: true });
      await g.backend.ensurePool({ type: 'dir', name: pool, path: poolDir(g) });
      const seed = buildNoCloudSeed({ instanceId: g.nodeId, hostname: g.name, userData: userData(g, provider) });
      await g.backend.ensureContentVolume(pool, seedVolume, async () => seed);
      await g.backend.ensureDomain({
        name: domainOf(g),
        type: 'qemu',
        vcpus: 1,
        memoryMiB: 256,
        boot: testImageBoot(imageDir),
        disks: [
          { pool, volume: seedVolume, format: 'raw', device: 'disk', bus: 'virtio', target: 'vda', readonly: true },
        ],
        nics: [
          {
            bridge: 'br-int',
            mac: g.mac,
            openvswitch: { interfaceId: g.nodeId },
            checksumOffload: false,
            ...(g.xmlMtu ? { mtu: g.xmlMtu } : {}),
          },
        ],
        consoleLog: g.consoleLog,
        owner: { tenantId: ids.tenantId, clusterId: ids.clusterId, nodeId: g.nodeId, role: 'master' },
      });
    }
    for (const g of guests) {
      g.startedAt = Date.now();
      await g.backend!.startDomain(domainOf(g));
    }
  }, 120_000);

  afterAll(async () => {
    for (const g of guests) {
      await g.backend?.removeDomain(domainOf(g)).catch(() => undefined);
      await g.backend
        ?.removeVolume(libvirtNames.storagePool(g.poolId), libvirtNames.seedVolume(g.nodeId))
        .catch(() => undefined);
      await g.backend?.removePool(libvirtNames.storagePool(g.poolId)).catch(() => undefined);
      await g.conn?.close().catch(() => undefined);
      rmSync(poolDir(g), { recursive: true, force: true });
    }
    if (nb && !nb.isClosed) {
      await controller.removeEndpoint(ids.clusterId).catch(() => undefined);
      await controller.removeVpc(ids.vpcId).catch(() => undefined);
      await controller.removeProvider(ids.rangeId).catch(() => undefined);
      await nb.close();
    }
    await new Promise((resolve) => (outside ? outside.close(resolve) : resolve(undefined)));
    if (ovn?.startedHere) await ovn.stop().catch((err) => console.log(`OVN down: ${String(err)}`));
    console.log(`ovn-hosts figures:\n  ${figures.join('\n  ')}`);
  }, 120_000);

  /** Rows of `ovs-vsctl`/`ovn-sbctl --format=json`, maps as objects, empty sets as undefined. */
  const ctlRows = async (command: string, args: string[]): Promise<Record<string, unknown>[]> => {
    const { stdout } = await run(command, ['--format=json', ...args]);
    const table = JSON.parse(stdout) as { headings: string[]; data: unknown[][] };
    const value = (cell: unknown): unknown => {
      if (!Array.isArray(cell)) return cell;
      if (cell[0] === 'map') return Object.fromEntries(cell[1] as [string, unknown][]);
      if (cell[0] === 'set') return (cell[1] as unknown[]).length === 0 ? undefined : cell[1];
      return cell[1];
    };
    return table.data.map((row) => Object.fromEntries(table.headings.map((h, i) => [h, value(row[i])])));
  };
  const ovsInterface = async (ovsDb: string, nodeId: string) =>
    (
      await ctlRows('ovs-vsctl', [
        `--db=${ovsDb}`,
        '--columns=name,mtu,external_ids',
        'find',
        'Interface',
        `external_ids:iface-id=${nodeId}`,
      ])
    )[0] as { name: string; mtu?: number; external_ids: Record<string, string> } | undefined;

  it('plugs each guest into its host’s br-int, and OVN DHCP hands it its address and MTU', async () => {
    const leases = await Promise.all(
      guests.map((g) =>
        until(`${g.name}'s lease`, async () => {
          const m = /KAAS_STAGE network-up ip=(\S+)/.exec(await consoleText(g.consoleLog));
          return m ? { ip: m[1], afterMs: Date.now() - g.startedAt } : undefined;
        }),
      ),
    );
    for (const [i, g] of guests.entries()) {
      figures.push(`${g.name} (host ${i + 1}): start -> DHCP address ${(leases[i].afterMs / 1000).toFixed(1)} s`);
      expect(leases[i].ip).toBe(g.ip);
      // bound by ovn-controller on the host the guest runs on
      const port = await until(
        `${g.name}'s port bound on host ${i + 1}`,
        async () => {
          const found = await ovsInterface(ovn!.hosts[i].ovsDb, g.nodeId);
          return found?.external_ids['ovn-installed'] === 'true' && found;
        },
        10_000,
      );
      expect(port.name).toMatch(/^vnet\d+$/);
      expect(port.external_ids['attached-mac']).toBe(g.mac);
      if (g.xmlMtu) expect(port.mtu).toBe(g.xmlMtu);
    }
    for (const g of guests) {
      reports[g.name] = await until(`${g.name}'s report over the status channel`, () => statusOf(g), 180_000);
      console.log(`${g.name}: ${JSON.stringify(reports[g.name])}`);
    }
    for (const g of guests) {
      // dhcpMtu is what the DHCP server sent; the link has it whether or not the XML gave one
      expect(reports[g.name]).toMatchObject({
        ip: g.ip,
        router: ROUTER_IP,
        dhcpMtu: String(MTU),
        linkMtu: String(MTU),
      });
    }
  }, 240_000);

  it('carries ping and TCP between the guests on the two hosts, over Geneve', () => {
    for (const [g, peer] of [
      [g1, g2],
      [g2, g1],
    ]) {
      expect(reports[g.name]).toMatchObject({ peerPing: 'ok', peerHttp: peer.name });
      expect(reports[g.name].peerRtt).toMatch(/^[\d.]+\/[\d.]+\/[\d.]+$/);
      figures.push(`${g.name} -> ${peer.name} ping RTT min/avg/max ${reports[g.name].peerRtt} ms`);
    }
  });

  it('lets both guests out to the provider network through SNAT on the first host', () => {
    for (const g of guests) expect(reports[g.name]).toMatchObject({ providerPing: 'ok', providerHttp: 'outside' });
    // the outside has no route to the VPC: it saw the router's provider address, never a guest's
    expect(outsideSources.length).toBeGreaterThanOrEqual(2);
    expect(new Set(outsideSources)).toEqual(new Set([routerProviderIp]));
  });

  it('answers on the cluster endpoint (a load balancer on a floating IP) from the first namespace, on its port only', async () => {
    const t = Date.now();
    await until(
      'both backends online in the Southbound',
      async () => {
        const monitors = await ctlRows('ovn-sbctl', [
          `--db=${ovn!.sb}`,
          '--columns=ip,status',
          'list',
          'Service_Monitor',
        ]);
        return guests.every((g) => monitors.some((m) => m.ip === g.ip && m.status === 'online'));
      },
      60_000,
    );
    const onlineAfterMs = Date.now() - t;
    let firstAnswerAt: number | undefined;
    const answers: string[] = [];
    const latencies: number[] = [];
    // until both masters have answered, then 20 more for the figures
    for (let i = 0; i < 60 && (new Set(answers).size < 2 || latencies.length < 20); i++) {
      const t0 = performance.now();
      const body = await httpGet(floatingIp, ENDPOINT_PORT);
      if (new Set(answers).size === 2) latencies.push(performance.now() - t0);
      if (body) firstAnswerAt ??= Date.now();
      answers.push(body);
    }
    expect(new Set(answers)).toEqual(new Set(guests.map((g) => g.name)));
    latencies.sort((a, b) => a - b);
    const firstAnswerAfterS = ((firstAnswerAt ?? 0) - Math.min(...guests.map((g) => g.startedAt))) / 1000;
    const count = (name: string) => answers.filter((a) => a === name).length;
    figures.push(
      `endpoint ${floatingIp}:${ENDPOINT_PORT}: both backends online ${onlineAfterMs} ms after the guests reported, ` +
        `first answer ${firstAnswerAfterS.toFixed(1)} s after the first guest's start; HTTP through the VIP from the first ` +
        `namespace: median ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms, max ` +
        `${latencies[latencies.length - 1].toFixed(1)} ms over ${latencies.length}; answers ` +
        guests.map((g) => `${g.name} ${count(g.name)}`).join(', '),
    );
    // The guests' httpd on 8099 answers inside the VPC, not on the floating IP.
    expect(await tcpOpens(floatingIp, 8099)).toBe(false);
  }, 90_000);

  it('leaves nothing behind: no domain, no Open vSwitch port, no Northbound row', async () => {
    const t = Date.now();
    for (const g of guests) {
      await g.backend!.removeDomain(domainOf(g));
      await g.backend!.removeVolume(libvirtNames.storagePool(g.poolId), libvirtNames.seedVolume(g.nodeId));
      await g.backend!.removePool(libvirtNames.storagePool(g.poolId));
      await expect(g.conn!.lookupDomain(domainOf(g))).rejects.toThrow();
    }
    for (const [i, g] of guests.entries()) expect(await ovsInterface(ovn!.hosts[i].ovsDb, g.nodeId)).toBeUndefined();
    await controller.removeEndpoint(ids.clusterId);
    for (const g of guests) await controller.removePort(g.nodeId);
    await controller.removeVpc(ids.vpcId);
    await controller.removeProvider(ids.rangeId);
    const ours = new Set<string>([...Object.values(ids), ...guests.map((g) => g.nodeId)]);
    const left = (await controller.listOwnedRows()).filter((r) => Object.values(r.owners).some((id) => ours.has(id!)));
    expect(left).toEqual([]);
    const { stdout } = await run('ovn-sbctl', [
      `--db=${ovn!.sb}`,
      '--bare',
      '--columns=logical_port',
      'list',
      'Port_Binding',
    ]);
    for (const g of guests) expect(stdout).not.toContain(g.nodeId);
    figures.push(`teardown (domains, volumes, pools, Northbound rows) ${Date.now() - t} ms`);
    if (ovn!.startedHere) {
      const t2 = Date.now();
      await ovn!.stop();
      figures.push(`OVN down on both hosts (vmenv verifies nothing is left) ${Date.now() - t2} ms`);
      ovn = undefined;
    }
  }, 120_000);
});
