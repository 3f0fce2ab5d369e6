import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DomainSpec } from '../../src/hypervisor/xml/domain-xml.js';
import { waitFor } from '../support/processes.js';
import type { Client } from '../support/test-app.js';
import { PLATFORM_NODE_FLAGS } from '../support/node-flags.js';

export const run = promisify(execFile);

/** Where scripts/test-vm.sh put things; the suite refuses to run outside it. */
export function vmEnv(): { imageDir: string; dataDir: string } {
  const imageDir = process.env.KAAS_GUEST_IMAGE_DIR;
  const dataDir = process.env.KAAS_VM_DATA_DIR;
  if (!imageDir || !dataDir || !existsSync(join(imageDir, 'vmlinuz'))) {
    throw new Error('run the real-VM suite through scripts/test-vm.sh (it builds the image and the namespace)');
  }
  return { imageDir, dataDir };
}

/** How the tests' own guests boot: the test image's kernel and initramfs, console on ttyS0. */
export function testImageBoot(imageDir: string): DomainSpec['boot'] {
  return {
    kind: 'kernel',
    kernel: join(imageDir, 'vmlinuz'),
    initrd: join(imageDir, 'initramfs.img'),
    cmdline: 'console=ttyS0 quiet panic=-1',
  };
}

export async function consoleText(path: string): Promise<string> {
  return existsSync(path) ? readFile(path, 'utf8') : '';
}

/** Waits for a line matching the pattern on a guest's serial console log. */
export async function waitForConsole(path: string, pattern: RegExp, timeoutMs = 180000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = (await consoleText(path)).match(pattern);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `console ${path} never showed ${pattern}; last lines:\n${(await consoleText(path)).split('\n').slice(-20).join('\n')}`,
  );
}

/**
 * Relays TCP connections from 127.0.0.1:<port> inside a network namespace to unix sockets (the
 * namespace's loopback is its own): `port=socket` pairs.
 */
const RELAY = `const net = require('node:net');
for (const pair of process.argv.slice(1)) {
  const [port, path] = pair.split('=');
  net.createServer((c) => {
    const u = net.connect(path);
    c.pipe(u); u.pipe(c);
    c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  }).listen(Number(port), '127.0.0.1', () => console.log('relay ' + port));
}`;

export interface SecondHost {
  uri: string;
  /** Its vmenv folder: run/, log/ and lib/ are its /run, /var/log/libvirt and /var/lib/libvirt. */
  dir: string;
  exec(cmd: string[]): Promise<{ stdout: string; stderr: string }>;
  /** A worker process inside the host's namespace, reaching PostgreSQL and Redis through relays. */
  startWorker(env: Record<string, string>): Promise<() => Promise<void>>;
}

/** The second real host scripts/test-vm.sh starts: its own libvirtd, network and mount namespace. */
export function secondHost(): SecondHost {
  const uri = process.env.KAAS_SECOND_HOST_URI;
  const netns = process.env.KAAS_SECOND_NETNS;
  const dir = process.env.KAAS_SECOND_VMENV_DIR;
  const pgSocket = process.env.KAAS_PG_SOCKET;
  const redisSocket = process.env.KAAS_REDIS_SOCKET;
  if (!uri || !netns || !dir || !pgSocket || !redisSocket)
    throw new Error('run the real-VM suite through scripts/test-vm.sh (it starts the second host)');
  const spawnIn = (args: string[], env: Record<string, string> = {}) => {
    const child = spawn('ip', ['netns', 'exec', netns, ...args], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    return {
      child,
      output: () => out,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  };
  return {
    uri,
    dir,
    exec: (cmd) => run('ip', ['netns', 'exec', netns, ...cmd]),
    async startWorker(env) {
      const port = (u: string) => new URL(u).port;
      const relay = spawnIn([
        process.execPath,
        '-e',
        RELAY,
        `${port(env.DATABASE_URL)}=${pgSocket}`,
        `${port(env.REDIS_URL)}=${redisSocket}`,
      ]);
      const deadline = Date.now() + 10000;
      while ((relay.output().match(/relay /g) ?? []).length < 2) {
        if (Date.now() > deadline || relay.child.exitCode !== null)
          throw new Error(`the relays did not start: ${relay.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const worker = spawnIn([process.execPath, ...PLATFORM_NODE_FLAGS, join('dist', 'src', 'worker.js')], env);
      return async () => {
        await worker.stop();
        await relay.stop();
        if (worker.output().includes('"level":50') || /error/i.test(worker.output().slice(-2000)))
          console.log(`second host's worker output (end):\n${worker.output().slice(-4000)}`);
      };
    },
  };
}

/**
 * Registers real hosts with a platform, drains its simulated host so only they take nodes, waits
 * for them to be Ready and makes the test image the default. Returns host ids by name.
 */
export async function useRealHosts(
  p: { admin: Client; hostId: string },
  hosts: { name: string; uri: string; chassis?: string }[],
  imageDir: string,
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const { name, uri, chassis } of hosts) {
    const host = await p.admin.call('POST', '/v1/hosts', {
      name,
      uri,
      domainType: 'qemu',
      ...(chassis ? { chassis } : {}),
    });
    if (host.status !== 201 || host.body.simulated !== false)
      throw new Error(`host ${name}: ${host.status} ${JSON.stringify(host.body)}`);
    ids[name] = host.body.id;
  }
  await p.admin.call('POST', `/v1/hosts/${p.hostId}/drain`, {});
  await waitFor(
    'the real hosts to be Ready',
    async () => {
      for (const id of Object.values(ids))
        if ((await p.admin.call('GET', `/v1/hosts/${id}`)).body.state !== 'Ready') return false;
      return true;
    },
    60000,
    500,
  );
  const image = await p.admin.call('POST', '/v1/images', {
    name: 'tiny',
    kind: 'kernel',
    kernelPath: join(imageDir, 'vmlinuz'),
    initrdPath: join(imageDir, 'initramfs.img'),
    kernelCmdline: 'console=ttyS0 quiet panic=-1',
    isDefault: true,
  });
  if (image.status !== 201) throw new Error(`image: ${image.status} ${JSON.stringify(image.body)}`);
  return ids;
}

/** One host's part of OVN, as `scripts/vmenv/vmenv.sh ovn-up` prints it. */
export interface OvnHost {
  netns: string;
  /** The Open vSwitch system-id, also the name of its Chassis row in the Southbound. */
  chassis: string;
  /** Its Open vSwitch database, for `ovs-vsctl --db=`. */
  ovsDb: string;
  /** Its Geneve endpoint on the underlay. */
  encapIp: string;
}

export interface OvnHosts {
  /** The Northbound database the platform writes (`KAAS_OVN_NB`). */
  nb: string;
  sb: string;
  /** The name `ovn-bridge-mappings` maps to br-ex on the first host. */
  physnet: string;
  /** The first host's br-ex address, standing for the outside, e.g. `10.250.0.1/24`. */
  providerAddress: string;
  hosts: [OvnHost, OvnHost];
  /** False when OVN was already up on both hosts: then `stop` leaves it running. */
  startedHere: boolean;
  /** Takes OVN down on both hosts (second first); rejects when vmenv finds something left. */
  stop(): Promise<void>;
}

const VMENV = join(import.meta.dirname, '..', '..', 'scripts', 'vmenv', 'vmenv.sh');

/**
 * Open vSwitch and ovn-controller on both hosts of the suite, the central databases and
 * ovn-northd on the first, joined by a Geneve underlay (`vmenv.sh ovn-up`, idempotent).
 */
export async function startOvnHosts(): Promise<OvnHosts> {
  const first = { netns: process.env.KAAS_NETNS, dir: process.env.KAAS_VMENV_DIR };
  const second = { netns: process.env.KAAS_SECOND_NETNS, dir: process.env.KAAS_SECOND_VMENV_DIR };
  if (!first.netns || !first.dir || !second.netns || !second.dir)
    throw new Error(
      'needs KAAS_NETNS, KAAS_VMENV_DIR, KAAS_SECOND_NETNS and KAAS_SECOND_VMENV_DIR (scripts/test-vm.sh)',
    );
  const base = { ...process.env };
  for (const key of Object.keys(base)) if (key.startsWith('KAAS_VMENV_OVN')) delete base[key];
  const envOf = {
    first: {
      ...base,
      KAAS_NETNS: first.netns,
      KAAS_VMENV_DIR: first.dir,
      KAAS_VMENV_PRIVATE: '0',
      KAAS_VMENV_OVN: '1',
    },
    second: {
      ...base,
      KAAS_NETNS: second.netns,
      KAAS_VMENV_DIR: second.dir,
      KAAS_VMENV_PRIVATE: '1',
      KAAS_VMENV_OVN_JOIN: first.netns,
    },
  };
  const up = async (env: NodeJS.ProcessEnv) => {
    const { stdout, stderr } = await run(VMENV, ['ovn-up'], { env });
    const vars = Object.fromEntries(
      stdout
        .split('\n')
        .filter((l) => /^KAAS_OVN_\w+=/.test(l) || l.startsWith('KAAS_OVS_DB='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;
    return { vars, already: stderr.includes('OVN already up') };
  };
  const a = await up(envOf.first);
  const b = await up(envOf.second);
  const host = (netns: string, vars: Record<string, string>): OvnHost => ({
    netns,
    chassis: vars.KAAS_OVN_CHASSIS,
    ovsDb: vars.KAAS_OVS_DB,
    encapIp: vars.KAAS_OVN_ENCAP_IP,
  });
  return {
    nb: a.vars.KAAS_OVN_NB,
    sb: a.vars.KAAS_OVN_SB,
    physnet: a.vars.KAAS_OVN_PHYSNET,
    providerAddress: a.vars.KAAS_OVN_PROVIDER_ADDRESS,
    hosts: [host(first.netns, a.vars), host(second.netns, b.vars)],
    startedHere: !(a.already && b.already),
    async stop() {
      await run(VMENV, ['ovn-down'], { env: envOf.second });
      await run(VMENV, ['ovn-down'], { env: envOf.first });
    },
  };
}

/** The platform's settings for the suite's OVN (its Northbound and Southbound, the provider network's name). */
export function ovnSettings(ovn: OvnHosts): Record<string, string> {
  return { KAAS_OVN_NB: ovn.nb, KAAS_OVN_SB: ovn.sb, KAAS_OVN_PHYSNET: ovn.physnet };
}

/** Rows the platform owns in the Northbound database, as `table name` lines (ovn-nbctl, the operator's view). */
export async function ownedNorthboundRows(ovn: OvnHosts): Promise<string[]> {
  const rows: string[] = [];
  const tables = [
    'Logical_Switch',
    'Logical_Switch_Port',
    'Logical_Router',
    'Logical_Router_Port',
    'Load_Balancer',
    'NAT',
    'DHCP_Options',
    'Gateway_Chassis',
  ];
  for (const table of tables) {
    const { stdout } = await run('ovn-nbctl', [
      `--db=${ovn.nb}`,
      '--format=json',
      '--columns=_uuid,external_ids',
      'list',
      table,
    ]);
    const parsed = JSON.parse(stdout) as { data: [unknown, ['map', [string, string][]]][] };
    for (const [uuid, ids] of parsed.data) {
      const map = Object.fromEntries(ids[1]);
      if (map['kaas:kind']) rows.push(`${table} ${map['kaas:kind']} ${JSON.stringify(uuid)}`);
    }
  }
  return rows;
}

/** Ports on a host's integration bridge other than OVN's own (tunnels, patches): guests' NICs. */
export async function guestPortsOn(host: OvnHost): Promise<string[]> {
  const { stdout } = await run('ovs-vsctl', [`--db=${host.ovsDb}`, 'list-ports', 'br-int']);
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('ovn-') && !l.startsWith('patch-'));
}

/** A namespace plugged into a VPC's switch the way a guest's NIC is, for looking at the VPC from inside. */
export interface VpcProbe {
  readonly netns: string;
  exec(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  ping(ip: string): Promise<boolean>;
  /** `ip neigh` of the probe's NIC. */
  neighbours(): Promise<string>;
  /** An HTTP GET from inside the VPC (curl, 5 s). */
  fetchText(url: string): Promise<string>;
  /** Takes another address on its NIC (one it was not given). */
  readdress(address: string): Promise<void>;
  remove(): Promise<void>;
}

let probes = 0;

/**
 * Plugs a probe into the VPC's OVN switch on `host`: a logical port of the switch with `address`,
 * bound to a veth in br-int whose other end is in a namespace of its own. The probe carries no
 * owner, so the platform's collection leaves it alone; `remove()` takes it away.
 */
export async function vpcProbe(
  ovn: OvnHosts,
  host: OvnHost,
  vpcId: string,
  address: string,
  options: { prefix?: number; portSecurity?: boolean } = {},
): Promise<VpcProbe> {
  const prefix = options.prefix ?? 24;
  const n = ++probes;
  const netns = `kaas-probe-${process.pid}-${n}`;
  const hostSide = `kp${process.pid % 10000}-${n}`.slice(0, 15);
  const port = `kaas-probe-${process.pid}-${n}`;
  const mac = `0a:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  await run('ovn-nbctl', [
    `--db=${ovn.nb}`,
    'lsp-add',
    `kaas-vpc-${vpcId}`,
    port,
    '--',
    'lsp-set-addresses',
    port,
    `${mac} ${address}`,
    // As the platform sets it on a node's port: only this MAC with this address gets through.
    ...(options.portSecurity ? ['--', 'lsp-set-port-security', port, `${mac} ${address}`] : []),
  ]);
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'e0', 'netns', netns]);
  await run('ip', ['link', 'set', hostSide, 'up']);
  await run('ovs-vsctl', [
    `--db=${host.ovsDb}`,
    'add-port',
    'br-int',
    hostSide,
    '--',
    'set',
    'interface',
    hostSide,
    `external_ids:iface-id=${port}`,
  ]);
  const exec = (...args: string[]) => run('ip', ['netns', 'exec', netns, ...args], { timeout: 30000 });
  await exec('ip', 'link', 'set', 'lo', 'up');
  await exec('ip', 'link', 'set', 'e0', 'address', mac, 'mtu', '1442', 'up');
  await exec('ip', 'addr', 'add', `${address}/${prefix}`, 'dev', 'e0');
  // The userspace datapath forwards what a veth leaves to the NIC's checksum offload unfinished:
  // TCP needs whole checksums.
  await exec('ethtool', '-K', 'e0', 'tx', 'off');
  await run('ethtool', ['-K', hostSide, 'tx', 'off']);
  return {
    netns,
    exec,
    ping: (ip) =>
      exec('ping', '-c', '1', '-W', '1', ip).then(
        () => true,
        () => false,
      ),
    neighbours: async () => (await exec('ip', 'neigh', 'show', 'dev', 'e0')).stdout,
    fetchText: async (url) => (await exec('curl', '-sSf', '--max-time', '5', url)).stdout,
    async readdress(other) {
      await exec('ip', 'addr', 'flush', 'dev', 'e0');
      await exec('ip', 'addr', 'add', `${other}/${prefix}`, 'dev', 'e0');
      await exec('ip', 'neigh', 'flush', 'dev', 'e0');
    },
    async remove() {
      await run('ovs-vsctl', [`--db=${host.ovsDb}`, '--if-exists', 'del-port', 'br-int', hostSide]).catch(
        () => undefined,
      );
      await run('ip', ['netns', 'del', netns]).catch(() => undefined);
      await run('ovn-nbctl', [`--db=${ovn.nb}`, '--if-exists', 'lsp-del', port]).catch(() => undefined);
    },
  };
}
