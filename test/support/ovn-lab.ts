import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OvnCentral, startOvnCentral } from './ovn-central.js';

/*
 * OVN on two "hosts" that are network namespaces: each host has its own ovsdb-server, ovs-vswitchd (userspace datapath, since the
 * kernel here has no openvswitch module) and ovn-controller; hosts reach each other over a veth
 * underlay carrying Geneve; guests are namespaces with a veth into a host's br-int. The central
 * databases and ovn-northd run in the test's own namespace: ovn-controller reaches the
 * Southbound through its unix socket, which a path in the file system makes visible everywhere.
 * Every namespace is created here from the outermost process (an `ip netns exec` inside another
 * cannot enter namespaces created within it) and carries a random prefix; nothing else is touched.
 */

const TOOLS = ['ip', 'ethtool', 'busybox', 'ovs-vsctl', 'ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovn-controller'];
const UNDERLAY_PREFIX = '192.168.100';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LabHost {
  readonly name: string;
  /** The chassis name (Open vSwitch system-id). */
  readonly chassis: string;
  readonly netns: string;
  readonly underlayIp: string;
  vsctl(...args: string[]): Promise<string>;
}

export interface TcpServer {
  stop(): Promise<void>;
}

export interface LabGuest {
  readonly name: string;
  readonly netns: string;
  readonly mac: string;
  readonly host: LabHost;
  /** Runs a command in the guest's namespace; never throws for a non-zero exit. */
  run(command: string, args: string[], timeoutMs?: number): Promise<CommandResult>;
  /** Runs OVN's DHCP client exchange; returns what the lease said. */
  dhcp(): Promise<Record<string, string>>;
  serve(port: number, reply: string): Promise<TcpServer>;
}

export interface OvnLab {
  readonly central: OvnCentral;
  readonly hosts: readonly [LabHost, LabHost];
  readonly dir: string;
  /** Runs a command in a namespace of the lab; never throws for a non-zero exit. */
  run(netns: string, command: string, args: string[], timeoutMs?: number): Promise<CommandResult>;
  /** A guest with a veth into `host`'s br-int, bound to the logical port `port`. */
  addGuest(name: string, host: LabHost, port: string, mac: string): Promise<LabGuest>;
  /** A TCP server in `netns` that answers every connection with `reply`; the lab stops it last. */
  serve(netns: string, port: number, reply: string): Promise<TcpServer>;
  /** Connects from `netns` and returns what the server said ('' when nothing answered). */
  tcp(netns: string, ip: string, port: number): Promise<string>;
  /** Gives host 1 a provider bridge mapped as `physnet`, with `address` standing for the outside. */
  addProviderNetwork(physnet: string, address: string): Promise<void>;
  logs(): Promise<string>;
  destroy(): Promise<void>;
}

export async function requireLabTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of TOOLS) {
    await new Promise<void>((resolve) =>
      execFile('sh', ['-c', `command -v ${tool}`], (err) => {
        if (err) missing.push(tool);
        resolve();
      }),
    );
  }
  return missing;
}

/** Runs a command; resolves with its exit code and output, never throws for a failure. */
function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 15_000,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function must(result: Promise<CommandResult>, what: string): Promise<string> {
  const r = await result;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startOvnLab(): Promise<OvnLab> {
  const prefix = `kaas-ovn-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const namespaces: string[] = [];
  const children: ChildProcess[] = [];
  const logFiles: string[] = [];
  let central: OvnCentral | undefined;

  // If the test process dies without `destroy`, take our namespaces and daemons with it.
  const onExit = () => {
    for (const child of children) child.kill('SIGKILL');
    for (const ns of namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', onExit);

  const envFor = (folder: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['OVS_RUNDIR', 'OVS_LOGDIR', 'OVS_DBDIR', 'OVN_RUNDIR', 'OVN_LOGDIR', 'OVN_DBDIR'])
      env[name] = folder;
    return env;
  };
  const rootEnv = { ...process.env };
  const inNs = (netns: string, command: string, args: string[], env = rootEnv, timeoutMs?: number) =>
    runCommand('ip', ['netns', 'exec', netns, command, ...args], env, timeoutMs);
  const addNamespace = async (name: string) => {
    const netns = `${prefix}-${name}`;
    await must(runCommand('ip', ['netns', 'add', netns], rootEnv), `ip netns add ${netns}`);
    namespaces.push(netns);
    await must(runCommand('ip', ['-n', netns, 'link', 'set', 'lo', 'up'], rootEnv), 'lo up');
    return netns;
  };
  /** A daemon in the foreground, as our child: `ip netns exec` execs it, so its pid is ours to kill. */
  const daemon = (netns: string, env: NodeJS.ProcessEnv, command: string, args: string[], logFile: string) => {
    const child = spawn('ip', ['netns', 'exec', netns, command, ...args, `--log-file=${logFile}`, '-vconsole:off'], {
      env,
      stdio: 'ignore',
    });
    children.push(child);
    logFiles.push(logFile);
    return child;
  };

  async function destroy(): Promise<void> {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }),
    );
    for (const ns of namespaces.splice(0)) await runCommand('ip', ['netns', 'del', ns], rootEnv);
    await central?.stop();
    process.off('exit', onExit);
    await rm(dir, { recursive: true, force: true });
  }

  try {
    central = await startOvnCentral();
    const sbRemote = central.sb.remote;
    const h1ns = await addNamespace('h1');
    const h2ns = await addNamespace('h2');
    await must(
      runCommand(
        'ip',
        ['link', 'add', 'u1', 'netns', h1ns, 'type', 'veth', 'peer', 'name', 'u2', 'netns', h2ns],
        rootEnv,
      ),
      'underlay veth',
    );

    const makeHost = async (index: 1 | 2, netns: string): Promise<LabHost> => {
      const name = `h${index}`;
      const folder = join(dir, name);
      await mkdir(folder);
      const env = envFor(folder);
      const db = join(folder, 'conf.db');
      const socket = join(folder, 'db.sock');
      await must(
        runCommand('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema'], env),
        'ovsdb-tool',
      );
      daemon(
        netns,
        env,
        'ovsdb-server',
        [db, `--remote=punix:${socket}`, `--unixctl=${join(folder, 'ovsdb.ctl')}`],
        join(folder, 'ovsdb-server.log'),
      );
      const vsctl = (...args: string[]) =>
        must(
          inNs(netns, 'ovs-vsctl', [`--db=unix:${socket}`, '--timeout=20', ...args], env),
          `ovs-vsctl ${args.join(' ')}`,
        );
      await waitUntil(
        `${name}'s ovsdb-server`,
        async () => (await inNs(netns, 'ovs-vsctl', [`--db=unix:${socket}`, '--no-wait', 'init'], env)).code === 0,
        10_000,
      );
      daemon(
        netns,
        env,
        'ovs-vswitchd',
        [`unix:${socket}`, `--unixctl=${join(folder, 'vswitchd.ctl')}`],
        join(folder, 'ovs-vswitchd.log'),
      );

      const underlay = `u${index}`;
      const underlayIp = `${UNDERLAY_PREFIX}.${index}`;
      await must(inNs(netns, 'ethtool', ['-K', underlay, 'tx', 'off']), 'ethtool underlay');
      await must(inNs(netns, 'ip', ['link', 'set', underlay, 'up']), 'underlay up');
      // With the userspace datapath the tunnel endpoint address must sit on a netdev bridge
      // that holds the underlay port.
      await vsctl('add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev');
      await vsctl('add-port', 'br-phy', underlay);
      await must(inNs(netns, 'ip', ['addr', 'add', `${underlayIp}/24`, 'dev', 'br-phy']), 'underlay address');
      await must(inNs(netns, 'ip', ['link', 'set', 'br-phy', 'up']), 'br-phy up');
      const chassis = `${prefix}-${name}`;
      await vsctl(
        'set',
        'open',
        '.',
        `external_ids:system-id=${chassis}`,
        `external_ids:ovn-remote=${sbRemote}`,
        'external_ids:ovn-encap-type=geneve',
        `external_ids:ovn-encap-ip=${underlayIp}`,
        'external_ids:ovn-bridge-datapath-type=netdev',
      );
      await vsctl(
        '--may-exist',
        'add-br',
        'br-int',
        '--',
        'set',
        'bridge',
        'br-int',
        'datapath_type=netdev',
        'fail-mode=secure',
        'other-config:disable-in-band=true',
      );
      // ovn-controller takes no --unixctl: OVN_RUNDIR in its environment places its socket.
      daemon(netns, env, 'ovn-controller', [`unix:${socket}`], join(folder, 'ovn-controller.log'));
      return { name, chassis, netns, underlayIp, vsctl };
    };
    const hosts = [await makeHost(1, h1ns), await makeHost(2, h2ns)] as const;
    const owned = central;
    await waitUntil('both chassis in the Southbound', async () => {
      const names = await owned.sbctl('--bare', '--columns=name', 'list', 'Chassis');
      return hosts.every((h) => names.includes(h.chassis));
    });

    const udhcpcScript = join(dir, 'udhcpc.sh');
    await writeFile(
      udhcpcScript,
      [
        '#!/bin/sh',
        '[ "$1" = bound ] || exit 0',
        'ip addr add "$ip/${mask:-24}" dev "$interface"',
        '[ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"',
        'for r in $router; do ip route add default via "$r" dev "$interface"; break; done',
        'printf "ip=%s\\nmask=%s\\nmtu=%s\\nrouter=%s\\ndns=%s\\n" "$ip" "$mask" "$mtu" "$router" "$dns" > "$LEASE_FILE"',
        '',
      ].join('\n'),
    );
    await chmod(udhcpcScript, 0o755);

    const serve = async (netns: string, port: number, reply: string): Promise<TcpServer> => {
      const script = join(dir, `serve-${netns}-${port}.sh`);
      await writeFile(script, `#!/bin/sh\necho ${reply}\n`);
      await chmod(script, 0o755);
      const child = spawn('ip', ['netns', 'exec', netns, 'busybox', 'nc', '-ll', '-p', String(port), '-e', script], {
        stdio: 'ignore',
      });
      children.push(child);
      await waitUntil(`a server on ${netns}:${port}`, async () => {
        const listening = await inNs(netns, 'busybox', ['netstat', '-ltn']);
        return listening.stdout.includes(`:${port} `);
      });
      return {
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        },
      };
    };

    let guestCount = 0;
    const lab: OvnLab = {
      central: owned,
      hosts,
      dir,
      run: (netns, command, args, timeoutMs) => inNs(netns, command, args, rootEnv, timeoutMs),
      serve,
      async tcp(netns, ip, port) {
        // stdin from /dev/null, so that nc ends when the server closes; `timeout` ends it in any
        // case (nc's own -w does not cover every state a half-open connection can be in).
        const r = await inNs(
          netns,
          'sh',
          ['-c', `exec timeout -s KILL 4 busybox nc -w 2 ${ip} ${port} </dev/null`],
          rootEnv,
          10_000,
        );
        return r.stdout.trim();
      },
      async addGuest(name, host, port, mac) {
        const netns = await addNamespace(name);
        const hostSide = `vg${++guestCount}`;
        await must(
          runCommand(
            'ip',
            ['link', 'add', hostSide, 'netns', host.netns, 'type', 'veth', 'peer', 'name', 'e0', 'netns', netns],
            rootEnv,
          ),
          `veth for ${name}`,
        );
        await must(inNs(netns, 'ip', ['link', 'set', 'e0', 'address', mac]), 'guest mac');
        await must(inNs(netns, 'ip', ['link', 'set', 'e0', 'up']), 'guest up');
        // The userspace datapath does not complete checksums left to offload: TCP needs this.
        await must(inNs(netns, 'ethtool', ['-K', 'e0', 'tx', 'off']), 'ethtool guest');
        await must(inNs(host.netns, 'ethtool', ['-K', hostSide, 'tx', 'off']), 'ethtool host side');
        await must(inNs(host.netns, 'ip', ['link', 'set', hostSide, 'up']), 'host side up');
        await host.vsctl(
          'add-port',
          'br-int',
          hostSide,
          '--',
          'set',
          'interface',
          hostSide,
          `external_ids:iface-id=${port}`,
        );
        await waitUntil(`${name}'s port bound by ovn-controller`, async () => {
          const externalIds = await host.vsctl('get', 'interface', hostSide, 'external_ids');
          return externalIds.includes('ovn-installed="true"');
        });
        const run = (command: string, args: string[], timeoutMs?: number) =>
          inNs(netns, command, args, rootEnv, timeoutMs);
        return {
          name,
          netns,
          mac,
          host,
          run,
          async dhcp() {
            const leaseFile = join(dir, `${name}.lease`);
            const env = { ...rootEnv, LEASE_FILE: leaseFile };
            await must(
              inNs(
                netns,
                'busybox',
                ['udhcpc', '-i', 'e0', '-n', '-q', '-t', '5', '-T', '1', '-O', 'mtu', '-O', 'dns', '-s', udhcpcScript],
                env,
                15_000,
              ),
              `DHCP in ${name}`,
            );
            const lease = await readFile(leaseFile, 'utf8');
            return Object.fromEntries(
              lease
                .trim()
                .split('\n')
                .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
            );
          },
          serve: (port, reply) => serve(netns, port, reply),
        };
      },
      async addProviderNetwork(physnet, address) {
        const [h1] = hosts;
        await h1.vsctl('add-br', 'br-ex', '--', 'set', 'bridge', 'br-ex', 'datapath_type=netdev');
        await h1.vsctl('set', 'open', '.', `external_ids:ovn-bridge-mappings=${physnet}:br-ex`);
        await must(inNs(h1.netns, 'ip', ['addr', 'add', address, 'dev', 'br-ex']), 'provider address');
        await must(inNs(h1.netns, 'ip', ['link', 'set', 'br-ex', 'up']), 'br-ex up');
      },
      async logs() {
        const parts = await Promise.all(
          logFiles.map(async (f) => `== ${f}\n${await readFile(f, 'utf8').catch(() => '')}`),
        );
        return [...parts, `== northd\n${await owned.northdLog()}`].join('\n');
      },
      destroy,
    };
    return lab;
  } catch (err) {
    await destroy();
    throw err;
  }
}
