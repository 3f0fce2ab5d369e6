import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Command } from 'commander';
import type { Schemas } from '../api/client.js';
import { ApiError } from './api-client.js';
import { humanBytes } from './backup-commands.js';
import { age } from './output.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';
import { onFakeClock } from '../../test/support/fake-clock.js';

type Backup = Schemas['BackupResponse'];

const CLUSTER = '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const TENANT = '7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d';
const STORAGE = '1c8f9b63-4a1d-4d6f-8e3b-8a4d2f1b0c22';
const NEWER = '9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const OLDER = '0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9';
const GONE = '3c2b1a09-8f7e-4d6c-9b5a-493827161504';

describe('backup formatting', () => {
  it('prints sizes in powers of 1024 with one decimal', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(1023)).toBe('1023 B');
    expect(humanBytes(1024)).toBe('1.0 KiB');
    expect(humanBytes(12.3 * 1024 * 1024)).toBe('12.3 MiB');
    expect(humanBytes(5 * 1024 ** 3 + 512 * 1024 ** 2)).toBe('5.5 GiB');
    expect(humanBytes(3 * 1024 ** 5)).toBe('3.0 PiB');
    expect(humanBytes(2 * 1024 ** 6)).toBe('2048.0 PiB');
  });

  it('prints ages like kubectl does', () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    expect(age('2026-01-10T11:59:18Z', now)).toBe('42s');
    expect(age('2026-01-10T11:55:00Z', now)).toBe('5m');
    expect(age('2026-01-10T09:00:00Z', now)).toBe('3h');
    expect(age('2025-12-29T12:00:00Z', now)).toBe('12d');
    // A clock a little behind the API's is not a negative age.
    expect(age('2026-01-10T12:00:03Z', now)).toBe('0s');
    expect(age('not a date', now)).toBe('-');
  });
});

interface Sent {
  method: string;
  path: string;
  query: string;
  body: unknown;
  tenant: string | null;
}

/** kaasctl as cli.ts builds it, its usage errors thrown and kept. */
function kaasctl(errors: string[]): Command {
  return throwOnUsageErrors(kaasctlProgram({}), errors);
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

function backup(over: Partial<Backup>): Backup {
  return {
    id: NEWER,
    clusterId: CLUSTER,
    clusterName: 'web',
    controlPlane: 'etcd',
    version: 'v3.5.17',
    phase: 'Succeeded',
    trigger: 'manual',
    storagePoolId: STORAGE,
    sizeBytes: Math.round(12.3 * 1024 * 1024),
    sha256: 'ab'.repeat(32),
    message: null,
    createdAt: minutesAgo(5),
    completedAt: minutesAgo(4),
    ...over,
  };
}

describe('kaasctl clusters backups and backups', () => {
  let sent: Sent[];
  let printed: string;
  let progress: string;
  let usageErrors: string[];
  let answer: { status: number; body: unknown } | undefined;
  /** What GET of one backup answers, in turn (the last one again once they run out). */
  let polls: Backup[];
  let cluster: Record<string, unknown>;

  const newer = backup({ trigger: 'scheduled', createdAt: minutesAgo(5) });
  const older = backup({
    id: OLDER,
    phase: 'Failed',
    sizeBytes: 0,
    sha256: null,
    message: 'no ready master answered',
    version: 'v3.5.16',
    createdAt: minutesAgo(3 * 24 * 60),
  });
  const ofGoneCluster = backup({ id: GONE, clusterId: GONE, clusterName: 'old', createdAt: minutesAgo(90) });

  beforeEach(() => {
    sent = [];
    printed = '';
    progress = '';
    usageErrors = [];
    answer = undefined;
    polls = [];
    cluster = { id: CLUSTER, name: 'web', settings: { maxUnhealthy: '40%' } };
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const method = init?.method ?? 'GET';
      const headers = (init?.headers ?? {}) as Record<string, string>;
      sent.push({
        method,
        path: url.pathname,
        query: url.search,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
        tenant: headers['x-kaas-tenant'] ?? null,
      });
      const json = (body: unknown, status = 200) =>
        new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (answer) return json(answer.body, answer.status);
      const one = `/v1/clusters/${CLUSTER}/backups/`;
      if (method === 'GET' && url.pathname === '/v1/tenants') return json({ items: [{ id: TENANT, name: 'acme' }] });
      if (method === 'GET' && url.pathname === '/v1/clusters') return json({ items: [cluster] });
      if (method === 'GET' && url.pathname === `/v1/clusters/${CLUSTER}`) return json(cluster);
      if (method === 'PATCH' && url.pathname === `/v1/clusters/${CLUSTER}`) {
        // As the API does: `settings` merged key by key.
        const patch = JSON.parse(String(init!.body)) as { settings: Record<string, unknown> };
        cluster = { ...cluster, settings: { ...(cluster.settings as object), ...patch.settings } };
        return json(cluster);
      }
      if (method === 'GET' && url.pathname === `/v1/clusters/${CLUSTER}/backups`)
        return json({ items: [newer, older] });
      if (method === 'POST' && url.pathname === `/v1/clusters/${CLUSTER}/backups`)
        return json(
          backup({ phase: 'Pending', sizeBytes: 0, sha256: null, createdAt: minutesAgo(0), completedAt: undefined }),
          202,
        );
      if (method === 'GET' && url.pathname.startsWith(one))
        return json(polls.length > 1 ? polls.shift() : (polls[0] ?? newer));
      if (method === 'GET' && url.pathname === '/v1/backups') return json({ items: [newer, ofGoneCluster, older] });
      if (method === 'GET' && url.pathname.startsWith('/v1/backups/')) return json(ofGoneCluster);
      if (method === 'DELETE') return new Response(null, { status: 204 });
      return json({ message: 'unexpected' }, 500);
    });
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      progress += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const run = (...args: string[]) =>
    kaasctl(usageErrors).parseAsync(['--url', 'http://kaas.test', '--token', 't', ...args], { from: 'user' });
  // The event stream is opened by every wait; these tests have none (the fake API refuses it).
  const calls = () => sent.filter((s) => s.path !== '/v1/events/stream').map((s) => `${s.method} ${s.path}`);
  const writes = () => sent.filter((s) => s.method !== 'GET');
  // Node may print its own warnings on stderr while the tests run; those are not kaasctl's.
  const progressLines = () => progress.split('\n').filter((line) => line.startsWith('backup '));
  const rows = () =>
    printed
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s{2,}/));

  /** Fake milliseconds from the start of `runWaiting` to the end of kaasctl. */
  let waited: number;

  /** Runs kaasctl on fake timers, a second at a time, until it ends (create --wait looks every second). */
  const runWaiting = (...args: string[]): Promise<Command> =>
    onFakeClock(
      () => run(...args),
      3600,
      (ms) => (waited = ms),
    );

  it("lists a cluster's backups by the cluster's name, newest first, every page", async () => {
    await run('clusters', 'backups', 'list', 'web');
    expect(calls()).toEqual(['GET /v1/clusters', `GET /v1/clusters/${CLUSTER}/backups`]);
    expect(sent[1].query).toBe('?limit=1000');
    expect(rows()).toEqual([
      ['ID', 'CLUSTER', 'PHASE', 'TRIGGER', 'SIZE', 'VERSION', 'AGE'],
      [NEWER, 'web', 'Succeeded', 'scheduled', '12.3 MiB', 'v3.5.17', '5m'],
      [OLDER, 'web', 'Failed', 'manual', '-', 'v3.5.16', '3d'],
    ]);
  });

  it('prints JSON or bare ids with -o, and takes a cluster id as it is', async () => {
    await run('-o', 'json', 'clusters', 'backups', 'list', CLUSTER);
    expect(calls()).toEqual([`GET /v1/clusters/${CLUSTER}/backups`]);
    expect(JSON.parse(printed)).toEqual([newer, older]);
    printed = '';
    await run('-o', 'name', 'clusters', 'backups', 'list', CLUSTER);
    expect(printed).toBe(`${NEWER}\n${OLDER}\n`);
  });

  it('takes a backup and prints it as the API answered, Pending, without waiting', async () => {
    await run('clusters', 'backups', 'create', 'web');
    expect(writes()).toEqual([
      { method: 'POST', path: `/v1/clusters/${CLUSTER}/backups`, query: '', body: {}, tenant: null },
    ]);
    expect(rows()[1]).toEqual([NEWER, 'web', 'Pending', 'manual', '-', 'v3.5.17', '0s']);
    expect(progressLines()).toEqual([]);
  });

  it('with --wait, asks every second until the backup succeeds and prints it once', async () => {
    polls = [
      backup({ phase: 'Running', sizeBytes: 0, sha256: null, completedAt: undefined }),
      backup({ phase: 'Running', sizeBytes: 0, sha256: null, completedAt: undefined }),
      backup({ phase: 'Succeeded' }),
    ];
    await runWaiting('-o', 'json', 'clusters', 'backups', 'create', 'web', '--wait');
    expect(calls()).toEqual([
      'GET /v1/clusters',
      `POST /v1/clusters/${CLUSTER}/backups`,
      ...Array(3).fill(`GET /v1/clusters/${CLUSTER}/backups/${NEWER}`),
    ]);
    expect(JSON.parse(printed)).toEqual(expect.objectContaining({ id: NEWER, phase: 'Succeeded' }));
    expect(progressLines()).toEqual([`backup ${NEWER}: Pending`, `backup ${NEWER}: Running`]);
  });

  it('with --wait, prints a failed backup and ends in an error that gives its message', async () => {
    polls = [backup({ phase: 'Failed', sizeBytes: 0, sha256: null, message: 'etcdctl snapshot save: timed out' })];
    await expect(runWaiting('clusters', 'backups', 'create', 'web', '--wait=30')).rejects.toThrow(
      `backup ${NEWER} of cluster web failed: etcdctl snapshot save: timed out`,
    );
    expect(rows()[1].slice(0, 3)).toEqual([NEWER, 'web', 'Failed']);
  });

  it('gives up waiting after the seconds given, saying the backup goes on', async () => {
    polls = [backup({ phase: 'Running', sizeBytes: 0, sha256: null, completedAt: undefined })];
    await expect(runWaiting('clusters', 'backups', 'create', 'web', '--wait=3')).rejects.toThrow(
      `backup ${NEWER} is still Running after 3 s; it goes on: see kaasctl backups show ${NEWER}`,
    );
    expect(waited).toBe(3000);
    expect(calls().filter((c) => c.startsWith('GET /v1/clusters/')).length).toBe(3);
    expect(printed).toBe('');
  });

  it('waits 600 s when --wait has no number', async () => {
    polls = [backup({ phase: 'Running', sizeBytes: 0, sha256: null, completedAt: undefined })];
    await expect(runWaiting('clusters', 'backups', 'create', 'web', '--wait')).rejects.toThrow('after 600 s');
    expect(waited).toBe(600_000);
  });

  it('refuses a --wait that is not a number of seconds, sending nothing', async () => {
    for (const bad of ['--wait=soon', '--wait=0', '--wait=-5'])
      await expect(run('clusters', 'backups', 'create', 'web', bad)).rejects.toThrow(
        `--wait must be a whole number of seconds (at least 1), got "${bad.slice(7)}"`,
      );
    expect(sent).toEqual([]);
  });

  it('shows and deletes one backup of the cluster, its id in a path segment of its own', async () => {
    await run('clusters', 'backups', 'show', 'web', NEWER);
    expect(calls()).toEqual(['GET /v1/clusters', `GET /v1/clusters/${CLUSTER}/backups/${NEWER}`]);
    expect(rows()[1]).toEqual([NEWER, 'web', 'Succeeded', 'scheduled', '12.3 MiB', 'v3.5.17', '5m']);
    sent = [];
    printed = '';
    await run('clusters', 'backups', 'delete', 'web', OLDER);
    expect(writes()).toEqual([
      { method: 'DELETE', path: `/v1/clusters/${CLUSTER}/backups/${OLDER}`, query: '', body: undefined, tenant: null },
    ]);
    expect(printed).toBe(`backup ${OLDER} of cluster web deleted\n`);
    sent = [];
    await run('clusters', 'backups', 'show', CLUSTER, 'a/b');
    expect(sent[0].path).toBe(`/v1/clusters/${CLUSTER}/backups/a%2Fb`);
  });

  it('sets a schedule through the cluster settings, keeping the other settings', async () => {
    await run('clusters', 'backups', 'schedule', 'web', '--every', '60', '--keep', '7');
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        path: `/v1/clusters/${CLUSTER}`,
        query: '',
        body: { settings: { backup: { intervalMinutes: 60, keep: 7 } } },
        tenant: null,
      },
    ]);
    expect(cluster.settings).toEqual({ maxUnhealthy: '40%', backup: { intervalMinutes: 60, keep: 7 } });
    expect(rows()).toEqual([
      ['CLUSTER', 'EVERY', 'KEEP'],
      ['web', '60m', '7'],
    ]);
  });

  it('turns the schedule off with a null backup setting, and shows it with neither flag', async () => {
    cluster.settings = { maxUnhealthy: '40%', backup: { intervalMinutes: 60, keep: 7 } };
    await run('-o', 'json', 'clusters', 'backups', 'schedule', 'web', '--off');
    expect(writes().map((s) => s.body)).toEqual([{ settings: { backup: null } }]);
    expect(JSON.parse(printed)).toEqual({ clusterId: CLUSTER, cluster: 'web', schedule: null });
    sent = [];
    printed = '';
    await run('clusters', 'backups', 'schedule', 'web');
    expect(calls()).toEqual(['GET /v1/clusters', `GET /v1/clusters/${CLUSTER}`]);
    expect(rows()).toEqual([
      ['CLUSTER', 'EVERY', 'KEEP'],
      ['web', 'off', '-'],
    ]);
  });

  it('refuses a schedule the API would refuse, or contradicting flags, sending nothing', async () => {
    const schedule = ['clusters', 'backups', 'schedule', 'web'];
    await expect(run(...schedule, '--every', '60')).rejects.toThrow('give --every and --keep together');
    await expect(run(...schedule, '--keep', '3')).rejects.toThrow('give --every and --keep together');
    await expect(run(...schedule, '--every', '4', '--keep', '3')).rejects.toThrow(
      '--every must be 5 to 10080 minutes, got 4',
    );
    await expect(run(...schedule, '--every', '10081', '--keep', '3')).rejects.toThrow(
      '--every must be 5 to 10080 minutes, got 10081',
    );
    await expect(run(...schedule, '--every', '60', '--keep', '0')).rejects.toThrow(
      '--keep must be 1 to 100 backups, got 0',
    );
    await expect(run(...schedule, '--every', 'hourly', '--keep', '3')).rejects.toThrow(
      '--every must be a whole number, got "hourly"',
    );
    await expect(run(...schedule, '--every', '60', '--keep', '3', '--off')).rejects.toThrow(
      /option '--every <minutes>' cannot be used with option '--off'/,
    );
    expect(usageErrors.join('')).toMatch(/cannot be used with option '--off'/);
    expect(sent).toEqual([]);
  });

  it("lists every backup of the tenant, deleted clusters' included, and shows and deletes one by id", async () => {
    await run('backups', 'list');
    expect(calls()).toEqual(['GET /v1/backups']);
    expect(rows().map((r) => r.slice(0, 3))).toEqual([
      ['ID', 'CLUSTER', 'PHASE'],
      [NEWER, 'web', 'Succeeded'],
      [GONE, 'old', 'Succeeded'],
      [OLDER, 'web', 'Failed'],
    ]);
    sent = [];
    printed = '';
    await run('-o', 'json', 'backups', 'show', GONE);
    expect(calls()).toEqual([`GET /v1/backups/${GONE}`]);
    expect(JSON.parse(printed)).toEqual(ofGoneCluster);
    sent = [];
    printed = '';
    await run('backups', 'delete', GONE);
    expect(calls()).toEqual([`DELETE /v1/backups/${GONE}`]);
    expect(printed).toBe(`backup ${GONE} deleted\n`);
  });

  it('acts for a tenant named by --tenant (operator)', async () => {
    await run('--tenant', 'acme', 'backups', 'list');
    expect(calls()).toEqual(['GET /v1/tenants', 'GET /v1/backups']);
    expect(sent[1].tenant).toBe(TENANT);
    sent = [];
    await run('--tenant', 'acme', 'clusters', 'backups', 'create', 'web');
    expect(sent.map((s) => s.tenant)).toEqual([null, TENANT, TENANT]);
  });

  it("passes the API's refusal on as an ApiError (kaasctl exits 1 on a 4xx)", async () => {
    answer = { status: 409, body: { statusCode: 409, message: `backup ${NEWER} of this cluster is still Running` } };
    const failure = run('clusters', 'backups', 'create', CLUSTER, '--wait');
    await expect(failure).rejects.toThrow(ApiError);
    await expect(failure).rejects.toThrow(`409: backup ${NEWER} of this cluster is still Running`);
    answer = { status: 404, body: { statusCode: 404, message: `backup ${OLDER} not found` } };
    await expect(run('backups', 'show', OLDER)).rejects.toThrow(`404: backup ${OLDER} not found`);
  });

  it('names an unknown cluster and sends nothing', async () => {
    await expect(run('clusters', 'backups', 'create', 'nope')).rejects.toThrow('no cluster named "nope"');
    await expect(run('clusters', 'backups', 'schedule', 'nope', '--off')).rejects.toThrow('no cluster named "nope"');
    expect(writes()).toEqual([]);
  });
});
