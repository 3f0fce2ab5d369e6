import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OVN_NB_SCHEMA, type OvsdbServer, startOvsdbServer } from './ovsdb-server.js';

const run = promisify(execFile);

export const OVN_SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';

/** What `ovn-nbctl/ovn-sbctl --format=json list|find` print. */
interface CtlTable {
  headings: string[];
  data: unknown[][];
}

export interface OvnCentral {
  readonly nb: OvsdbServer;
  readonly sb: OvsdbServer;
  /** `ovn-nbctl` on the Northbound database. */
  nbctl(...args: string[]): Promise<string>;
  sbctl(...args: string[]): Promise<string>;
  /** `ovn-sbctl --format=json list|find`, rows as objects keyed by column. */
  sbRows(...args: string[]): Promise<Record<string, unknown>[]>;
  /** Returns once ovn-northd has brought the Southbound up to the current Northbound. */
  syncSouthbound(): Promise<void>;
  northdLog(): Promise<string>;
  /** Lines of the northd log at WARN level or worse. */
  northdComplaints(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * The central part of OVN for a test: a Northbound and a Southbound ovsdb-server and ovn-northd
 * between them, each in a temporary folder of its own, as children of the test process (killed
 * with it if the test dies before `stop()`).
 */
export async function startOvnCentral(): Promise<OvnCentral> {
  const nb = await startOvsdbServer({ schema: OVN_NB_SCHEMA, tools: ['ovn-nbctl', 'ovn-northd', 'ovn-appctl'] });
  let sb: OvsdbServer | undefined;
  let northd: ChildProcess | undefined;
  let dir: string | undefined;
  const killOnExit = () => northd?.kill('SIGKILL');
  try {
    sb = await startOvsdbServer({ schema: OVN_SB_SCHEMA, tools: ['ovn-sbctl'] });
    dir = await mkdtemp(join(tmpdir(), 'kaas-northd-'));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['OVS_RUNDIR', 'OVS_LOGDIR', 'OVS_DBDIR', 'OVN_RUNDIR', 'OVN_LOGDIR', 'OVN_DBDIR'])
      env[name] = dir;
    const logFile = join(dir, 'northd.log');
    const ctl = join(dir, 'northd.ctl');
    const started = spawn(
      'ovn-northd',
      [
        `--ovnnb-db=${nb.remote}`,
        `--ovnsb-db=${sb.remote}`,
        `--unixctl=${ctl}`,
        `--pidfile=${join(dir, 'northd.pid')}`,
        `--log-file=${logFile}`,
        '-vconsole:off',
      ],
      { env, stdio: 'ignore' },
    );
    northd = started;
    process.once('exit', killOnExit);
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    const sbServer = sb;
    const northdDir = dir;

    const nbctl = async (...args: string[]) => (await nb.exec('ovn-nbctl', [`--db=${nb.remote}`, ...args])).stdout;
    const sbctl = async (...args: string[]) =>
      (await sbServer.exec('ovn-sbctl', [`--db=${sbServer.remote}`, ...args])).stdout;
    const northdLog = () => readFile(logFile, 'utf8').catch(() => '');

    const deadline = Date.now() + 20_000;
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new Error(`ovn-northd exited (${started.exitCode ?? started.signalCode}): ${await northdLog()}`);
      }
      const status = await run('ovn-appctl', ['-t', ctl, 'status'], { env }).then(
        (r) => r.stdout,
        () => '',
      );
      if (status.includes('active')) break;
      if (Date.now() > deadline) throw new Error(`ovn-northd did not become active: ${await northdLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    let stopped = false;
    return {
      nb,
      sb: sbServer,
      nbctl,
      sbctl,
      async sbRows(...args: string[]) {
        const table = JSON.parse(await sbctl('--format=json', ...args)) as CtlTable;
        return table.data.map((row) => Object.fromEntries(table.headings.map((h, i) => [h, row[i]])));
      },
      async syncSouthbound() {
        await nbctl('--wait=sb', '--timeout=30', 'sync');
      },
      northdLog,
      async northdComplaints() {
        return (await northdLog()).split('\n').filter((line) => /\|(WARN|ERR|EMER)\|/.test(line));
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        if (started.exitCode === null && started.signalCode === null) {
          started.kill('SIGTERM');
          const timer = setTimeout(() => started.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        process.off('exit', killOnExit);
        await Promise.allSettled([nb.stop(), sbServer.stop(), rm(northdDir, { recursive: true, force: true })]);
      },
    };
  } catch (err) {
    northd?.kill('SIGKILL');
    process.off('exit', killOnExit);
    await Promise.allSettled([nb.stop(), sb?.stop(), dir ? rm(dir, { recursive: true, force: true }) : undefined]);
    throw err;
  }
}
