import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const OVN_NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';

export interface OvsdbServerOptions {
  /** The .ovsschema file the database is created from. */
  schema: string;
  /** Also listen on loopback TCP (a free port), where ovsdb-server probes idle sessions. */
  tcp?: boolean;
  /** Tools the test will `exec`, checked up front so that a missing one fails clearly. */
  tools?: string[];
}

export interface OvsdbServer {
  readonly dir: string;
  readonly socket: string;
  /** `unix:<dir>/db.sock` */
  readonly remote: string;
  /** `tcp:127.0.0.1:<port>` when asked for. */
  readonly tcpRemote: string | undefined;
  /** Runs an OVS/OVN tool with this server's folders in its environment; never through a shell. */
  exec(command: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a real ovsdb-server on a fresh database in a temporary folder that holds everything it
 * writes (socket, control socket, pid file, log), so that tests share nothing with each other
 * or with an Open vSwitch the machine may run. The server stays in the foreground as our child:
 * `stop()` and, failing that, the exit of the test process end it.
 */
export async function startOvsdbServer(options: OvsdbServerOptions): Promise<OvsdbServer> {
  await requireTools(['ovsdb-server', 'ovsdb-tool', ...(options.tools ?? [])], options.schema);
  const dir = await mkdtemp(join(tmpdir(), 'kaas-ovsdb-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The tools otherwise reach for /var/run/openvswitch and friends.
  for (const name of ['OVS_RUNDIR', 'OVS_LOGDIR', 'OVS_DBDIR', 'OVN_RUNDIR', 'OVN_LOGDIR', 'OVN_DBDIR'])
    env[name] = dir;
  const db = join(dir, 'db.db');
  const socket = join(dir, 'db.sock');
  const logFile = join(dir, 'ovsdb-server.log');
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  try {
    await run('ovsdb-tool', ['create', db, options.schema], { env });
    const port = options.tcp ? await freeLoopbackPort() : undefined;
    const args = [
      db,
      `--remote=punix:${socket}`,
      ...(port ? [`--remote=ptcp:${port}:127.0.0.1`] : []),
      `--unixctl=${join(dir, 'ctl')}`,
      `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
      `--log-file=${logFile}`,
      '-vconsole:off',
    ];
    const started = spawn('ovsdb-server', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let stderr = '';
    started.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    process.once('exit', killOnExit);

    await waitUntil(
      async () => {
        if (started.exitCode !== null || started.signalCode !== null) {
          const log = await readFile(logFile, 'utf8').catch(() => '');
          throw new Error(`ovsdb-server exited (${started.exitCode ?? started.signalCode}): ${stderr}${log}`);
        }
        return (await canConnect(socket)) && (port === undefined || (await canConnect(port)));
      },
      'ovsdb-server to listen',
      10_000,
    );

    let stopped = false;
    return {
      dir,
      socket,
      remote: `unix:${socket}`,
      tcpRemote: port ? `tcp:127.0.0.1:${port}` : undefined,
      exec: (command, commandArgs) => run(command, commandArgs, { env, timeout: 15_000 }),
      log: () => readFile(logFile, 'utf8'),
      async stop() {
        if (stopped) return;
        stopped = true;
        await terminate(started, exited);
        process.off('exit', killOnExit);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child) await terminate(child, new Promise((resolve) => child?.once('exit', resolve)));
    process.off('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function requireTools(tools: string[], schema: string): Promise<void> {
  const missing: string[] = [];
  for (const tool of tools) await run(tool, ['--version']).catch(() => missing.push(tool));
  await access(schema).catch(() => missing.push(schema));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')}: install the Debian packages openvswitch-common, ovn-common and ` +
        'ovn-central (scripts/deps.sh does)',
    );
  }
}

async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function canConnect(target: string | number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = typeof target === 'string' ? connect(target) : connect(target, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
