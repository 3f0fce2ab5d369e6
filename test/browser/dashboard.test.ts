import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { type Browser, chromium, type Locator, type Page, type Request } from 'playwright-core';
import { type Platform, startPlatform } from '../support/platform.js';
import { ROOT } from '../support/processes.js';

/**
 * The dashboard in a real browser (Debian's chromium) against the real API with a simulated
 * host: operator and tenant journeys through the UI only. Screenshots of the main views go to
 * a temporary folder, or to docs/screenshots/ (the README's pictures) with
 * KAAS_UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the checkout as it was.
 */
const CHROMIUM = process.env.KAAS_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS =
  process.env.KAAS_UPDATE_SCREENSHOTS === '1'
    ? join(ROOT, 'docs', 'screenshots')
    : mkdtempSync(join(tmpdir(), 'kaas-screenshots-'));
const WIDE = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

/**
 * The etcd bundle's manifest and scripts with stand-ins for its binaries, which simulated guests
 * never run: each of its versions is installed whatever `make bundles` could fetch, so the
 * upgrade below always has a version to go to (v3.5.16, reachable from the default v3.4.23).
 */
function bundlesWithStandIns(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kaas-browser-bundles-'));
  const from = join(ROOT, 'bundles', 'etcd');
  const to = join(dir, 'etcd');
  const manifest = JSON.parse(readFileSync(join(from, 'manifest.json'), 'utf8')) as {
    versions: Record<string, { artifacts: string[] }>;
    checksums: string;
  };
  cpSync(join(from, 'scripts'), join(to, 'scripts'), { recursive: true });
  cpSync(join(from, 'manifest.json'), join(to, 'manifest.json'));
  const sums: string[] = [];
  for (const artifact of new Set(Object.values(manifest.versions).flatMap((v) => v.artifacts))) {
    const path = join(to, artifact);
    const data = `a stand-in for ${artifact}: simulated guests run none\n`;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
    sums.push(
      `${createHash('sha256').update(data).digest('hex')}  ${relative(dirname(join(to, manifest.checksums)), path)}`,
    );
  }
  writeFileSync(join(to, manifest.checksums), `${sums.join('\n')}\n`);
  return dir;
}

/** How long a view that follows the event stream waits at most between refreshes (web/js/live.js). */
const SAFETY_MS = 30000;
/** How long the page is watched for requests while its cluster is quiet. */
const QUIET_MS = 6000;

/** In the page: the nodes table's rows, each as its node id and the text of its Version cell. */
const NODE_VERSIONS = `[...document.querySelectorAll('[aria-labelledby="s-nodes"] tbody tr[data-key]')].map((r) => [r.dataset.key, r.cells[3].textContent])`;

describe('web dashboard', () => {
  let p: Platform;
  let browser: Browser;
  let page: Page;
  let tenantKey: string;
  let floatingAddress: string;
  let clusterId: string;
  let bundlesDir: string;
  const problems: string[] = [];

  const shot = async (name: string, fullPage = false) => {
    // A notice left from the previous step is not part of the picture.
    await page.evaluate("document.getElementById('toast').classList.remove('toast-visible')");
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
  };
  const heading = (name: string) => page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  const field = (name: string): Locator => page.locator(`[data-field="${name}"]`);
  const navTo = async (label: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
    await heading(label);
  };
  const signIn = async (token: string) => {
    await page.getByLabel('API key or admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const nodeVersions = async () => (await page.evaluate(NODE_VERSIONS)) as [id: string, version: string][];
  /** Until the nodes table shows what `done` looks for (the page's policy allows no evaluated predicate). */
  const waitForNodes = async (what: string, done: (rows: [string, string][]) => boolean, ms = 50000) => {
    const deadline = Date.now() + ms;
    let rows = await nodeVersions();
    while (!done(rows)) {
      if (Date.now() > deadline) throw new Error(`the nodes table never showed ${what}: ${JSON.stringify(rows)}`);
      await page.waitForTimeout(200);
      rows = await nodeVersions();
    }
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to kaas');
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    bundlesDir = bundlesWithStandIns();
    [p, browser] = await Promise.all([
      startPlatform({ KAAS_BUNDLES_DIR: bundlesDir }),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] }),
    ]);
    const context = await browser.newContext({ viewport: WIDE, acceptDownloads: true, reducedMotion: 'reduce' });
    page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('request', (req) => {
      if (/kaas_|admin-/.test(req.url())) problems.push(`a key in a URL: ${req.url()}`);
    });
    page.on('console', (msg) => {
      if (/Content.Security.Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
  }, 60000);

  afterAll(async () => {
    await browser?.close();
    await p?.close();
    if (bundlesDir) rmSync(bundlesDir, { recursive: true, force: true });
  });

  it('refuses a wrong key with a message beside the field', async () => {
    await page.goto(p.baseUrl);
    await heading('Sign in to kaas');
    await shot('sign-in');
    await signIn(`kaas_0000000000000000_${'a'.repeat(43)}`);
    const error = field('token').locator('.field-error');
    await error.filter({ hasText: 'not accepted' }).waitFor();
    expect(await field('token').locator('input').getAttribute('aria-invalid')).toBe('true');
    expect(page.url()).not.toContain('kaas_');
  });

  it('reads the event-stream format as browsers do: split pieces, CRLF and CR, comments, ids that carry over', async () => {
    const events = await page.evaluate(`(async () => {
      const { SseParser } = await import('/js/event-stream.js');
      const out = [];
      const parser = new SseParser((e) => out.push(e));
      const pieces = [': stream open\\n\\n', 'id: 7\\r', '\\ndata: {"a":', '1}\\r\\n\\r', '\\n', 'data: x\\rdata:y\\n\\n',
        'id: 9\\nevent: ping\\ndata\\n\\n', 'id: 10\\n\\n', 'data: z\\n\\n', 'data: cut off'];
      for (const piece of pieces) parser.push(piece);
      return out;
    })()`);
    expect(events).toEqual([
      { id: '7', type: 'message', data: '{"a":1}' },
      { id: '7', type: 'message', data: 'x\ny' },
      { id: '9', type: 'ping', data: '' },
      { id: '10', type: 'message', data: 'z' },
    ]);
  });

  it('signs the operator in: floating-IP range, tenant with its key shown once, hosts', async () => {
    await signIn(p.config.adminToken!);
    await heading('Tenants');
    expect(page.url()).not.toContain(p.config.adminToken!);

    await navTo('Floating-IP ranges');
    await field('cidr').locator('input').fill('10.251.0.0/28');
    await page.getByRole('button', { name: 'Add range' }).click();
    await page.getByRole('rowheader', { name: '10.251.0.0/28' }).waitFor();

    await navTo('Tenants');
    await field('name').locator('input').fill('acme');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const dialog = page.getByRole('dialog', { name: 'Tenant acme created' });
    tenantKey = await dialog.getByLabel('API key of acme').inputValue();
    expect(tenantKey).toMatch(/^kaas_/);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'View as tenant acme' }).waitFor();
    await shot('operator-tenants');

    // Quota edits happen in a dialog; a refused value is shown beside its field.
    await page.getByRole('button', { name: 'Edit quota of acme' }).click();
    const quota = page.getByRole('dialog', { name: 'Quota of acme' });
    await quota.getByLabel('Clusters (maxClusters)').fill('-1');
    await quota.getByRole('button', { name: 'Save quota' }).click();
    await quota.locator('[data-field="maxClusters"] .field-error', { hasText: 'must not be negative' }).waitFor();
    await quota.getByLabel('Clusters (maxClusters)').fill('4');
    await quota.getByRole('button', { name: 'Save quota' }).click();
    await quota.waitFor({ state: 'detached' });
    await page.getByRole('meter', { name: 'acme Clusters' }).and(page.locator('[aria-valuemax="4"]')).waitFor();

    // The audit log: its entries, or a clear notice on a server without the route.
    await navTo('Audit log');
    const entries = page.getByRole('region', { name: 'Changes, newest first' });
    await page.getByText('The audit log is not available').or(entries).waitFor();
    if (await entries.isVisible()) {
      await entries.getByText('POST /v1/tenants', { exact: true }).waitFor();
    }

    await navTo('Hosts');
    await page.getByRole('rowheader', { name: /sim-1/ }).waitFor();
    await page.locator('tbody .badge', { hasText: 'Ready' }).first().waitFor();
    await shot('operator-hosts');

    // Acting as the tenant: its (empty) views, then back.
    await navTo('Tenants');
    // Its clusters page follows the tenant's event stream, asked for with the operator token and
    // the tenant named in X-Kaas-Tenant; leaving the page closes the stream.
    const [stream] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith('/v1/events/stream')),
      page.getByRole('button', { name: 'View as tenant acme' }).click(),
    ]);
    await heading('Clusters');
    await page.getByText('Viewing as tenant acme').waitFor();
    const actAs = await page.evaluate("JSON.parse(sessionStorage.getItem('kaas.session')).actAs.id");
    expect(stream.headers()['x-kaas-tenant']).toBe(actAs);
    expect(stream.headers()['authorization']).toBe(`Bearer ${p.config.adminToken}`);
    expect((await stream.response())?.status()).toBe(200);
    await page.locator('.live-status[data-stream="live"]').waitFor();
    const closed = page.waitForEvent('requestfailed', (r) => r === stream);
    await page.getByRole('button', { name: 'Back to operator views' }).click();
    await heading('Tenants');
    await closed;
    await signOut();
  });

  it('signs the tenant in and creates a VPC (a bad CIDR is refused beside its field), a pool and an address', async () => {
    await signIn(tenantKey);
    await heading('Clusters');
    // The key lives in this tab's sessionStorage only.
    expect(await page.evaluate("sessionStorage.getItem('kaas.session')")).toContain(tenantKey);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    await page.getByText('No clusters yet').waitFor();

    await navTo('VPCs');
    await field('name').locator('input').fill('net');
    await field('cidr').locator('input').fill('10.0.0.0/33');
    await page.getByRole('button', { name: 'Create VPC' }).click();
    const cidrError = field('cidr').locator('.field-error');
    await cidrError.waitFor();
    expect(await cidrError.textContent()).toMatch(/\S/);
    expect(await field('cidr').locator('input').getAttribute('aria-invalid')).toBe('true');
    await field('cidr').locator('input').fill('10.30.0.0/24');
    await page.getByRole('button', { name: 'Create VPC' }).click();
    await page.getByRole('rowheader', { name: 'net' }).waitFor();
    expect(await cidrError.isHidden()).toBe(true);

    await navTo('Storage pools');
    await field('name').locator('input').fill('disks');
    await field('capacityGiB').locator('input').fill('500');
    await page.getByRole('button', { name: 'Create storage pool' }).click();
    await page.getByRole('rowheader', { name: 'disks' }).waitFor();

    await navTo('Floating IPs');
    await page.getByRole('button', { name: 'Allocate floating IP' }).click();
    floatingAddress = (await page.getByRole('rowheader').first().textContent())!.trim();
    expect(floatingAddress).toMatch(/^10\.251\.0\.\d+$/);

    await navTo('Quota');
    await page.getByRole('meter', { name: 'Floating IPs' }).and(page.locator('[aria-valuenow="1"]')).waitFor();
    await page.getByRole('meter', { name: 'Storage' }).and(page.locator('[aria-valuenow="500"]')).waitFor();
    expect(await page.getByRole('meter', { name: 'Clusters' }).getAttribute('aria-valuemax')).toBe('4');
  });

  it('creates a cluster from the form and sees it reach Running', async () => {
    await navTo('Clusters');
    await page.getByRole('link', { name: 'Create cluster' }).click();
    await heading('Create a cluster');
    expect(await field('controlPlane').locator('select').inputValue()).toBe('etcd');
    await field('name').locator('input').fill('web');
    await field('workers').locator('input').fill('1');
    // The only VPC, pool and free address are chosen already.
    expect(await field('floatingIpId').locator('select').locator('option:checked').textContent()).toBe(floatingAddress);
    await shot('cluster-create', true);
    await page.getByRole('button', { name: 'Create cluster' }).click();
    await heading('web');
    clusterId = /#\/clusters\/([0-9a-f-]{36})$/.exec(page.url())![1];

    await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor({ timeout: 40000 });
    await page.locator('.summary dd', { hasText: '2 of 2' }).waitFor();
    await page.locator('.events', { hasText: 'PhaseRunning' }).waitFor();
    expect(await page.locator('.summary').textContent()).toContain(`https://${floatingAddress}`);

    await page.getByRole('link', { name: '← Clusters' }).click();
    await heading('Clusters');
    const row = page.locator(`.clusters-table tr[data-key="${clusterId}"]`);
    await row.locator('.badge', { hasText: 'Running' }).waitFor();
    expect(await row.textContent()).toContain(`https://${floatingAddress}`);
    await shot('clusters');
    await page.setViewportSize(PHONE);
    await shot('clusters-phone');
    await page.setViewportSize(WIDE);
  }, 60000);

  it('scales the workers and shows the new node and the events', async () => {
    await page.getByRole('link', { name: 'web', exact: true }).click();
    await heading('web');
    await field('workers').locator('input').fill('2');
    await page.getByRole('button', { name: 'Scale', exact: true }).click();
    await page.locator('.events', { hasText: 'Scaled' }).waitFor();
    await page.locator('.summary dd', { hasText: '3 of 3' }).waitFor({ timeout: 40000 });
    const nodes = page.getByRole('region', { name: 'Nodes' }).locator('tbody tr');
    expect(await nodes.count()).toBe(3);
    await page.getByRole('region', { name: 'Nodes' }).locator('tbody .badge', { hasText: 'Ready' }).nth(2).waitFor();
    await shot('cluster-detail', true);
  }, 60000);

  it('shows the worker pools and each node’s pool; adds a pool, scales one with a PATCH, removes one', async () => {
    const pools = page.getByRole('region', { name: 'Worker pools' });
    const defaultPool = pools.locator('tbody tr[data-key="default"]');
    await defaultPool.locator('td', { hasText: '2 of 2' }).waitFor();
    expect(await defaultPool.textContent()).toContain('2 vCPU');
    const nodeRows = page.getByRole('region', { name: 'Nodes' }).locator('tbody tr');
    expect(await nodeRows.filter({ has: page.getByRole('cell', { name: 'default', exact: true }) }).count()).toBe(2);

    // A pool of no workers: its size is the one vCPU given, the rest the cluster's.
    const addForm = pools.getByRole('form', { name: 'Add a worker pool' });
    await addForm.locator('[data-field="name"] input').fill('batch');
    await addForm.locator('[data-field="count"] input').fill('0');
    await addForm.getByLabel('vCPUs').fill('1');
    const [added] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/v1/clusters/${clusterId}/pools`)),
      addForm.getByRole('button', { name: 'Add pool' }).click(),
    ]);
    expect(added.postDataJSON()).toEqual({
      name: 'batch',
      count: 0,
      nodeSpec: { vcpus: 1, memoryMiB: expect.any(Number), diskGiB: expect.any(Number) },
    });
    const batch = pools.locator('tbody tr[data-key="batch"]');
    await batch.locator('td', { hasText: '0 of 0' }).waitFor();
    expect(await batch.textContent()).toContain('1 vCPU');
    // With two pools, the cluster-wide worker count gives way to each pool's.
    expect(await field('workers').locator('input').isDisabled()).toBe(true);

    await pools.getByLabel('Workers in pool default').fill('1');
    const [scaled] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/v1/clusters/${clusterId}/pools/default`)),
      pools.getByRole('button', { name: 'Scale pool default' }).click(),
    ]);
    expect(scaled.postDataJSON()).toEqual({ count: 1 });
    await defaultPool.locator('td', { hasText: '1 of 1' }).waitFor();
    await page.locator('.events', { hasText: 'PoolChanged' }).waitFor();
    await nodeRows.nth(2).waitFor({ state: 'detached', timeout: 40000 });

    await pools.getByRole('button', { name: 'Remove pool batch' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove pool batch?' });
    await dialog.getByRole('button', { name: 'Remove pool' }).click();
    await batch.waitFor({ state: 'detached' });
    expect(await field('workers').locator('input').isDisabled()).toBe(false);
    await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor({ timeout: 40000 });
  }, 60000);

  it('takes a backup with "Back up now", sets and turns off the schedule, offers the backup to a new cluster, deletes it', async () => {
    const backups = page.getByRole('region', { name: 'Backups' });
    await backups.getByText('No backups yet.').waitFor();
    const [requested] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/v1/clusters/${clusterId}/backups`)),
      backups.getByRole('button', { name: 'Back up now' }).click(),
    ]);
    expect(requested.postDataJSON()).toEqual({});
    const row = backups.locator('tbody tr[data-key]');
    await row.locator('.badge', { hasText: 'Succeeded' }).waitFor({ timeout: 40000 });
    const backupId = (await row.getAttribute('data-key'))!;
    expect(await row.locator('td').nth(1).textContent()).toBe('manual');
    expect(await row.locator('td').nth(2).textContent()).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);

    // The schedule is settings.backup; a refused value is shown beside its field.
    const schedule = backups.getByRole('form', { name: 'Backup schedule' });
    await schedule.getByLabel('Every (minutes)').fill('4');
    await schedule.getByRole('button', { name: 'Save schedule' }).click();
    await schedule
      .locator('[data-field="settings.backup.intervalMinutes"] .field-error', { hasText: 'at least 5' })
      .waitFor();
    await schedule.getByLabel('Every (minutes)').fill('60');
    await schedule.getByLabel('Keep (newest)').fill('3');
    const [saved] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/v1/clusters/${clusterId}`)),
      schedule.getByRole('button', { name: 'Save schedule' }).click(),
    ]);
    expect(saved.postDataJSON()).toEqual({ settings: { backup: { intervalMinutes: 60, keep: 3 } } });
    await backups.getByText('A backup every hour; the newest 3 scheduled backup(s) are kept.').waitFor();
    const [off] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/v1/clusters/${clusterId}`)),
      schedule.getByRole('button', { name: 'Turn off' }).click(),
    ]);
    expect(off.postDataJSON()).toEqual({ settings: { backup: null } });
    await backups.getByText('No schedule', { exact: false }).waitFor();

    // The create form offers the backup; choosing it fixes the control plane to the backup's.
    await page.getByRole('link', { name: '← Clusters' }).click();
    await heading('Clusters');
    await page.getByRole('link', { name: 'Create cluster' }).click();
    await heading('Create a cluster');
    await field('restoreFrom.backupId').locator('select').selectOption(backupId);
    expect(await field('controlPlane').locator('select').isDisabled()).toBe(true);
    expect(await field('version').locator('select').isDisabled()).toBe(true);
    await page.getByRole('link', { name: 'Cancel' }).click();
    await heading('Clusters');
    await page.getByRole('link', { name: 'web', exact: true }).click();
    await heading('web');

    await backups.getByRole('button', { name: `Delete backup ${backupId.slice(0, 8)}` }).click();
    const dialog = page.getByRole('dialog', { name: `Delete backup ${backupId.slice(0, 8)}?` });
    await dialog.getByRole('button', { name: 'Delete backup' }).click();
    await backups.getByText('No backups yet.').waitFor();
  }, 60000);

  it("edits a pool's labels and taints in a dialog: a refusal beside its row, then the PATCH of what changed", async () => {
    const pools = page.getByRole('region', { name: 'Worker pools' });
    const defaultPool = pools.locator('tbody tr[data-key="default"]');
    await pools.getByRole('button', { name: 'Edit labels and taints of pool default' }).click();
    const dialog = page.getByRole('dialog', { name: 'Labels and taints of pool default' });
    await dialog.getByText('Nodes made after the change carry these').waitFor();
    await dialog.getByRole('button', { name: 'Add label' }).click();
    await dialog.getByLabel('Label 1 Key').fill('kubernetes.io/role');
    await dialog.getByLabel('Label 1 Value').fill('web');
    await dialog.getByRole('button', { name: 'Add taint' }).click();
    await dialog.getByLabel('Taint 1 Key').fill('dedicated');
    await dialog.getByLabel('Taint 1 Value').fill('web');
    await dialog.getByLabel('Taint 1 Effect').selectOption('PreferNoSchedule');
    const save = dialog.getByRole('button', { name: 'Save labels and taints' });
    const poolPatch = (r: { method(): string; url(): string }) =>
      r.method() === 'PATCH' && r.url().endsWith(`/v1/clusters/${clusterId}/pools/default`);

    // A label in a namespace that nodes may not label themselves with: the API's 400, beside it.
    const [refused] = await Promise.all([page.waitForRequest(poolPatch), save.click()]);
    expect(refused.postDataJSON()).toEqual({
      labels: { 'kubernetes.io/role': 'web' },
      taints: [{ key: 'dedicated', value: 'web', effect: 'PreferNoSchedule' }],
    });
    await dialog
      .locator('[data-field="labels.kubernetes.io/role"] .field-error', { hasText: 'kubernetes.io namespace' })
      .waitFor();

    await dialog.getByLabel('Label 1 Key').fill('tier');
    const [saved] = await Promise.all([page.waitForRequest(poolPatch), save.click()]);
    expect(saved.postDataJSON()).toEqual({
      labels: { tier: 'web' },
      taints: [{ key: 'dedicated', value: 'web', effect: 'PreferNoSchedule' }],
    });
    await dialog.waitFor({ state: 'detached' });
    await defaultPool.getByText('tier=web').waitFor();
    await defaultPool.getByText('dedicated=web:PreferNoSchedule').waitFor();

    // Removing the label sends the labels alone: the taints did not change.
    await pools.getByRole('button', { name: 'Edit labels and taints of pool default' }).click();
    await dialog.getByRole('button', { name: 'Remove label 1' }).click();
    await dialog.getByText('No labels.').waitFor();
    const [removed] = await Promise.all([page.waitForRequest(poolPatch), save.click()]);
    expect(removed.postDataJSON()).toEqual({ labels: {} });
    await dialog.waitFor({ state: 'detached' });
    await defaultPool.getByText('tier=web').waitFor({ state: 'detached' });
  });

  it('upgrades the cluster to a version reachable from its own, and shows each node follow', async () => {
    const version = page.getByRole('region', { name: 'Version' });
    await version.getByText('etcd v3.4.23', { exact: true }).waitFor();
    await version.getByText('AtDeclaredVersion').waitFor();
    const target = version.getByLabel('Upgrade to');
    expect(await target.locator('option').allTextContents()).toEqual(['v3.5.16']);
    expect((await nodeVersions()).map(([, v]) => v)).toEqual(['v3.4.23', 'v3.4.23']);

    await version.getByRole('button', { name: 'Upgrade' }).click();
    const dialog = page.getByRole('dialog', { name: 'Upgrade web to v3.5.16?' });
    const [patched] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/v1/clusters/${clusterId}`)),
      dialog.getByRole('button', { name: 'Upgrade' }).click(),
    ]);
    expect(patched.postDataJSON()).toEqual({ version: 'v3.5.16' });
    await version.getByText('etcd v3.5.16', { exact: true }).waitFor();
    await page.locator('.events', { hasText: 'UpgradeRequested' }).waitFor();

    // Every node replaced by one at the new version; then nothing further is reachable.
    await waitForNodes('two nodes at v3.5.16', (rows) => rows.length === 2 && rows.every(([, v]) => v === 'v3.5.16'));
    await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor({ timeout: 40000 });
    await version.getByText('AtDeclaredVersion').waitFor();
    await version.getByText('No version of etcd can be reached from v3.5.16.').waitFor();
    expect(await target.isHidden()).toBe(true);
  }, 90000);

  it('rotates the certificates after a confirmation: every node is replaced', async () => {
    const before = (await nodeVersions()).map(([id]) => id);
    expect(before).toHaveLength(2);
    const credentials = page.getByRole('region', { name: 'Credentials' });
    await credentials.getByRole('button', { name: 'Rotate certificates' }).click();
    const dialog = page.getByRole('dialog', { name: 'Rotate the certificates of web?' });
    const [rotate] = await Promise.all([
      page.waitForRequest(
        (r) => r.method() === 'POST' && r.url().endsWith(`/v1/clusters/${clusterId}/rotate-certificates`),
      ),
      dialog.getByRole('button', { name: 'Rotate certificates' }).click(),
    ]);
    expect(rotate.postDataJSON()).toEqual({});
    await dialog.waitFor({ state: 'detached' });
    await page.locator('.events', { hasText: 'CertificateRotationRequested' }).waitFor();
    await waitForNodes('two new nodes', (rows) => rows.length === 2 && rows.every(([id]) => !before.includes(id)));
    await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor({ timeout: 40000 });
    await page.getByRole('region', { name: 'Version' }).getByText('AtDeclaredVersion').waitFor();
  }, 90000);

  it('downloads the kubeconfig through the API with the key in a header, for the lifetime asked', async () => {
    const credentials = page.getByRole('region', { name: 'Credentials' });
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes('/kubeconfig')) asked.push(r.url());
    };
    page.on('request', onRequest);
    // 31 days is more than a kubeconfig may live: refused beside the field, nothing asked.
    await credentials.getByLabel('Valid for').fill('744');
    await credentials.getByRole('button', { name: 'Download kubeconfig' }).click();
    await credentials
      .locator('[data-field="ttlSeconds"] .field-error', { hasText: 'must be 60 seconds to 30 days' })
      .waitFor();
    expect(await credentials.getByLabel('Valid for').getAttribute('aria-invalid')).toBe('true');
    await credentials.getByLabel('Unit').selectOption('seconds');
    await credentials.getByLabel('Valid for').fill('59');
    await credentials.getByRole('button', { name: 'Download kubeconfig' }).click();
    await credentials.locator('[data-field="ttlSeconds"] .field-error', { hasText: '59 seconds is not' }).waitFor();
    expect(asked).toEqual([]);

    await credentials.getByLabel('Unit').selectOption('hours');
    await credentials.getByLabel('Valid for').fill('2');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      credentials.getByRole('button', { name: 'Download kubeconfig' }).click(),
    ]);
    page.off('request', onRequest);
    expect(asked.map((url) => new URL(url).searchParams.get('ttlSeconds'))).toEqual(['7200']);
    expect(await credentials.locator('[data-field="ttlSeconds"] .field-error').isHidden()).toBe(true);
    expect(download.suggestedFilename()).toBe('web.kubeconfig.yaml');
    const yaml = readFileSync((await download.path())!, 'utf8');
    expect(yaml).toContain(`server: https://${floatingAddress}`);
    expect(yaml).toContain('kind: Config');
  });

  it('follows the event stream instead of polling: a scale through the API shows at once; a hidden tab asks nothing', async () => {
    const asked: string[] = [];
    const onRequest = (r: Request) => {
      const url = new URL(r.url());
      if (r.method() === 'GET' && url.pathname.startsWith('/v1/')) asked.push(url.pathname);
    };
    page.on('request', onRequest);
    try {
      // A fresh load: the cluster's stream opens before the page's first refresh, so the next
      // refresh without an event is SAFETY_MS after that refresh.
      await page.goto(`${p.baseUrl}/#/clusters/${clusterId}`);
      const [stream] = await Promise.all([
        page.waitForRequest((r) => r.url().endsWith(`/v1/events/stream?clusterId=${clusterId}`)),
        page.reload(),
      ]);
      const loaded = Date.now();
      await heading('web');
      expect((await stream.response())?.status()).toBe(200);
      await page.locator('.live-status[data-stream="live"]').waitFor();
      await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor();

      // A quiet cluster: polling every 2 s would ask its 4 lists 3 times in 6 s; at most one
      // refresh (an event of the cluster's) is allowed here.
      await page.waitForTimeout(1000);
      const quietFrom = asked.length;
      await page.waitForTimeout(QUIET_MS);
      expect(asked.slice(quietFrom).length).toBeLessThanOrEqual(4);

      // A scale made through the API, not the page, shows long before SAFETY_MS would bring it.
      const api = (method: string, body?: unknown) =>
        fetch(`${p.baseUrl}/v1/clusters/${clusterId}`, {
          method,
          headers: { authorization: `Bearer ${tenantKey}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const before = (await (await api('GET')).json()) as { masters: number; workers: number };
      const size = (workers: number) => `${before.masters} master(s), ${workers} worker(s)`;
      const nodes = before.masters + before.workers + 1;
      expect(await page.locator('.summary').textContent()).toContain(size(before.workers));
      expect((await api('PATCH', { workers: before.workers + 1 })).status).toBe(202);
      await page
        .locator('.summary dd', { hasText: size(before.workers + 1) })
        .waitFor({ timeout: loaded + SAFETY_MS - 5000 - Date.now() });
      await page.locator('.events', { hasText: 'Scaled' }).waitFor({ timeout: 1000 });
      // The new node comes up and the cluster is Running again, each step shown from its events.
      await page.locator('.summary dd', { hasText: `${nodes} of ${nodes}` }).waitFor({ timeout: 40000 });
      await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor({ timeout: 40000 });
      expect(await page.getByRole('region', { name: 'Nodes' }).locator('tbody tr').count()).toBe(nodes);

      // A hidden tab asks nothing, whatever the events; shown again, it refreshes at once.
      const visibility = (hidden: boolean) =>
        page.evaluate(
          `Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} }); document.dispatchEvent(new Event('visibilitychange'))`,
        );
      await visibility(true);
      const hiddenFrom = asked.length;
      expect((await api('PATCH', { workers: before.workers })).status).toBe(202);
      await page.waitForTimeout(3000);
      expect(asked.slice(hiddenFrom)).toEqual([]);
      expect(await page.locator('.summary').textContent()).toContain(size(before.workers + 1));
      await visibility(false);
      await page.locator('.summary dd', { hasText: size(before.workers) }).waitFor({ timeout: 2000 });
      await page.locator('.summary dd', { hasText: `${nodes - 1} of ${nodes - 1}` }).waitFor({ timeout: 40000 });
      await page.locator('.title-badge .badge', { hasText: 'Running' }).waitFor({ timeout: 40000 });
      await page
        .getByRole('region', { name: 'Nodes' })
        .locator('tbody tr')
        .nth(nodes - 1)
        .waitFor({ state: 'detached', timeout: 40000 });

      // The same stream all along: it never had to reconnect.
      expect(asked.filter((path) => path === '/v1/events/stream')).toHaveLength(1);

      // Leaving the page closes its stream.
      const closed = page.waitForEvent('requestfailed', (r) => r === stream);
      await page.getByRole('link', { name: '← Clusters' }).click();
      await heading('Clusters');
      await closed;
      await page.getByRole('link', { name: 'web', exact: true }).click();
      await heading('web');
    } finally {
      page.off('request', onRequest);
    }
  }, 90000);

  it('deletes the cluster after confirmation (Escape cancels) and it goes from the list', async () => {
    const deleteButton = page.getByRole('button', { name: 'Delete cluster' });
    await deleteButton.click();
    const dialog = page.getByRole('dialog', { name: 'Delete cluster web?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Focus is back on the button that opened the dialog, and nothing was deleted.
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Delete cluster');
    expect(await page.locator('.title-badge').textContent()).toBe('Running');

    await deleteButton.click();
    await dialog.getByRole('button', { name: 'Delete cluster' }).click();
    await heading('Clusters');
    await page.locator(`.clusters-table tr[data-key="${clusterId}"]`).waitFor({ state: 'detached', timeout: 40000 });
    await page.getByText('No clusters yet').waitFor();
    expect(problems).toEqual([]);
  }, 60000);
});
