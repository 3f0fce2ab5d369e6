import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
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

describe('web dashboard', () => {
  let p: Platform;
  let browser: Browser;
  let page: Page;
  let tenantKey: string;
  let floatingAddress: string;
  let clusterId: string;
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
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in to kaas');
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [p, browser] = await Promise.all([
      startPlatform(),
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
    await page.getByRole('button', { name: 'View as tenant acme' }).click();
    await heading('Clusters');
    await page.getByText('Viewing as tenant acme').waitFor();
    await page.getByRole('button', { name: 'Back to operator views' }).click();
    await heading('Tenants');
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

  it('downloads the kubeconfig through the API with the key in a header', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download kubeconfig' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('web.kubeconfig.yaml');
    const yaml = readFileSync((await download.path())!, 'utf8');
    expect(yaml).toContain(`server: https://${floatingAddress}`);
    expect(yaml).toContain('kind: Config');
  });

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
