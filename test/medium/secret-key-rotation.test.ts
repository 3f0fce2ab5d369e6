import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import type { SecretKeyRotation } from '../../src/cli/admin-commands.js';
import { createLogger } from '../../src/common/logger.js';
import { SecretBox } from '../../src/common/secret-box.js';
import { decryptSecret, encryptSecret, sealedKeyId, secretKeyId } from '../../src/common/secrets.js';
import { readIfExists } from '../../src/config/bootstrap.js';
import { loadConfig } from '../../src/config/config.js';
import { ClusterSecretsStore } from '../../src/control-plane/cluster-secrets.store.js';
import { createLibvirtTestHost, type LibvirtTestHost } from '../../src/hypervisor/libvirt/testing/libvirt-test-host.js';
import { createHttpApp } from '../../src/http-app.js';
import { kaasctl } from '../support/kaasctl.js';
import { clusterBody, tenantWithInfra, type TenantSetup } from '../support/platform.js';
import { Client, LogSink, ovnEnv, startTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase } from '../support/test-database.js';

/** What encryptSecret wrote before key ids existed: bare base64 of iv | tag | ciphertext. */
function legacySeal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

/** Every sealed value at rest, with its key id (null: sealed before key ids). */
async function sealedKeyIds(db: DataSource): Promise<(string | null)[]> {
  const rows: { sealed: string }[] = await db.query(
    `SELECT sealed FROM cluster_secrets
     UNION ALL SELECT response_body->>'sealed' FROM idempotency_records WHERE response_body->>'sealed' IS NOT NULL`,
  );
  return rows.map((r) => sealedKeyId(r.sealed));
}

/** The API with its keys in a key file, as `make run` sets it up, plus a worker process's modules. */
async function startOnKeyFile(
  keyFile: string,
  dataDir: string,
): Promise<TestApp & { worker: INestApplicationContext }> {
  const db = await createTestDatabase();
  const config = loadConfig(
    {
      DATABASE_URL: db.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:56379',
      KAAS_ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
      KAAS_SECRET_KEY_FILE: keyFile,
      KAAS_QUEUE_PREFIX: `kaas-t-${randomBytes(4).toString('hex')}`,
      KAAS_LOG_LEVEL: 'info',
      KAAS_DATA_DIR: dataDir,
      ...ovnEnv(),
    },
    readIfExists,
  );
  const logs = new LogSink();
  const app = await createHttpApp(config, createLogger(config.logLevel, 'api', logs));
  await app.listen(0, '127.0.0.1');
  const baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(config, createLogger('info', 'worker', logs), 'worker')],
  }).compile();
  const worker = await moduleRef.init();
  return {
    app,
    baseUrl,
    config,
    db,
    logs,
    admin: new Client(baseUrl, config.adminToken),
    worker,
    async close() {
      await worker.close();
      await app.close();
      await db.drop();
    },
  };
}

/** The cluster CA a kubeconfig names. */
const caOf = (kubeconfig: string) => /certificate-authority-data: (\S+)/.exec(kubeconfig)?.[1];

describe('POST /v1/admin/secret-key/rotate with the keys in the key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kaas-rotation-'));
  const keyFile = join(dir, 'secret.key');
  const firstKey = randomBytes(32);
  let t: TestApp & { worker: INestApplicationContext };
  let host: LibvirtTestHost;
  let db: DataSource;
  let s: TenantSetup;
  const clusters: { id: string; kubeconfig: string }[] = [];
  const replays: { client: Client; path: string; body: unknown; key: string; answer: unknown }[] = [];

  const fileKeys = () => readFileSync(keyFile, 'utf8').trim().split('\n');
  const rotate = async () => {
    const res = await t.admin.call<SecretKeyRotation>('POST', '/v1/admin/secret-key/rotate', {});
    expect(res.status).toBe(200);
    return res.body;
  };
  const expectEverythingOpens = async () => {
    for (const c of clusters) {
      const res = await s.client.call('GET', `/v1/clusters/${c.id}/kubeconfig`);
      expect(res.status).toBe(200);
      // Each download carries a certificate of its own, issued by the cluster's CA, which the
      // sealed secrets hold: the same CA before and after.
      expect(caOf(res.body)).toBe(caOf(c.kubeconfig));
    }
    for (const r of replays) {
      const again = await r.client.call('POST', r.path, r.body, { 'Idempotency-Key': r.key });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(r.answer);
    }
  };

  beforeAll(async () => {
    // What `make run` writes on first start: one key, hex, no newline.
    writeFileSync(keyFile, firstKey.toString('hex'), { mode: 0o600 });
    t = await startOnKeyFile(keyFile, dir);
    db = t.app.get(DataSource);
    host = await createLibvirtTestHost({ cpus: 16, memoryKiB: 64 * 1024 * 1024 });
    const registered = await t.admin.call('POST', '/v1/hosts', { name: 'h', uri: host.uri, domainType: 'qemu' });
    if (registered.status !== 201) throw new Error(`host: ${JSON.stringify(registered.body)}`);
    s = await tenantWithInfra(t, 'rotation');

    // Two clusters with their secrets made (what a worker's first reconcile pass does).
    for (const name of ['one', 'two']) {
      const fip = name === 'one' ? { id: s.floatingIpId } : (await s.client.call('POST', '/v1/floating-ips', {})).body;
      const res = await s.client.call(
        'POST',
        '/v1/clusters',
        clusterBody(s, { name, workers: 0, floatingIpId: fip.id }),
      );
      expect(res.status).toBe(202);
      await t.app.get(ClusterSecretsStore).ensure({ id: res.body.id, name });
      const kubeconfig = await s.client.call('GET', `/v1/clusters/${res.body.id}/kubeconfig`);
      expect(kubeconfig.status).toBe(200);
      clusters.push({ id: res.body.id, kubeconfig: kubeconfig.body });
    }
    // One of them as it was sealed before key ids existed.
    const [legacy] = (await db.query('SELECT sealed FROM cluster_secrets WHERE cluster_id = $1', [clusters[1].id])) as {
      sealed: string;
    }[];
    const plaintext = decryptSecret(firstKey, legacy.sealed, clusters[1].id);
    await db.query('UPDATE cluster_secrets SET sealed = $2 WHERE cluster_id = $1', [
      clusters[1].id,
      legacySeal(firstKey, plaintext, clusters[1].id),
    ]);

    // Answers stored sealed: a new tenant's API key (operator), a floating IP (tenant).
    for (const [client, path, body] of [
      [t.admin, '/v1/tenants', { name: 'replayed' }],
      [s.client, '/v1/floating-ips', {}],
    ] as const) {
      const key = `rotation-${path}`;
      const first = await client.call('POST', path, body, { 'Idempotency-Key': key });
      expect(first.status).toBe(201);
      replays.push({ client, path, body, key, answer: first.body });
    }
    expect((await sealedKeyIds(db)).sort()).toEqual(
      [null, secretKeyId(firstKey), secretKeyId(firstKey), secretKeyId(firstKey)].sort(),
    );
  }, 60000);

  afterAll(async () => {
    await t?.close();
    await host?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is for the operator alone, and takes no body', async () => {
    const tenant = await s.client.call('POST', '/v1/admin/secret-key/rotate', {});
    expect(tenant.status).toBe(403);
    const withBody = await t.admin.call('POST', '/v1/admin/secret-key/rotate', { key: 'mine' });
    expect(withBody.status).toBe(400);
    expect(fileKeys()).toEqual([firstKey.toString('hex')]);
  });

  it('writes a new key at the head of the key file and seals every secret again under it', async () => {
    const answer = await rotate();
    const newId = answer.currentKeyId;
    expect(newId).not.toBe(secretKeyId(firstKey));
    expect(answer).toEqual({
      currentKeyId: newId,
      source: 'file',
      generated: true,
      reencrypted: { clusterSecrets: 2, idempotency: 2 },
      remaining: {},
      message: expect.stringContaining('the retired keys can be removed from the key file'),
    });
    const keys = fileKeys();
    expect(keys).toHaveLength(2);
    expect(secretKeyId(Buffer.from(keys[0], 'hex'))).toBe(newId);
    expect(keys[1]).toBe(firstKey.toString('hex'));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    expect(await sealedKeyIds(db)).toEqual([newId, newId, newId, newId]);
    await expectEverythingOpens();
  });

  it("reaches another process's keys without a restart", async () => {
    const current = secretKeyId(Buffer.from(fileKeys()[0], 'hex'));
    // The worker's modules started on the first key only; what they open now is under the new one.
    const secrets = await t.worker.get(ClusterSecretsStore).get(clusters[0].id);
    expect(secrets).not.toBeNull();
    expect(t.worker.get(SecretBox).currentKeyId).toBe(current);
    expect(t.worker.get(SecretBox).keyIdOf(t.worker.get(SecretBox).seal('x', 'y'))).toBe(current);
  });

  it('is audited as an operator write', async () => {
    const audit = await t.admin.call('GET', '/v1/audit?limit=100');
    const rotations = audit.body.items.filter((r: { path: string }) => r.path === '/v1/admin/secret-key/rotate');
    expect(rotations.map((r: { statusCode: number; actor: { kind: string } }) => [r.actor.kind, r.statusCode])).toEqual(
      expect.arrayContaining([
        ['admin', 200],
        ['tenant', 403],
      ]),
    );
  });

  it('rotates again while requests keep sealing new answers', async () => {
    const before = fileKeys();
    const writes = Array.from({ length: 20 }, (_, i) => {
      const key = `during-${i}`;
      const body = { name: `during-${i}` };
      return t.admin
        .call('POST', '/v1/tenants', body, { 'Idempotency-Key': key })
        .then((res) => ({ client: t.admin, path: '/v1/tenants', body, key, answer: res.body, status: res.status }));
    });
    const [answer, ...written] = await Promise.all([rotate(), ...writes]);
    for (const w of written) {
      expect(w.status).toBe(201);
      replays.push(w);
    }
    expect(answer.generated).toBe(true);
    expect(answer.reencrypted.clusterSecrets).toBe(2);
    expect(answer.remaining).toEqual({});
    expect(fileKeys()).toEqual([expect.any(String), ...before]);
    expect(new Set(await sealedKeyIds(db))).toEqual(new Set([answer.currentKeyId]));
    await expectEverythingOpens();
  });

  it('is run by `kaasctl admin rotate-secret-key`, -o json or a table with what to do next', async () => {
    const json = JSON.parse(
      await kaasctl(t.baseUrl, t.config.adminToken!, ['-o', 'json', 'admin', 'rotate-secret-key']),
    );
    expect(json).toEqual(
      expect.objectContaining({ source: 'file', generated: true, remaining: {}, currentKeyId: expect.any(String) }),
    );
    expect(secretKeyId(Buffer.from(fileKeys()[0], 'hex'))).toBe(json.currentKeyId);

    const table = await kaasctl(t.baseUrl, t.config.adminToken!, ['admin', 'rotate-secret-key']);
    const current = secretKeyId(Buffer.from(fileKeys()[0], 'hex'));
    expect(table).toMatch(new RegExp(`CURRENT KEY\\s+SOURCE.*\\n${current}\\s+file\\s+true\\s+2\\s+\\d+\\s+none`));
    expect(table).toContain(
      `Every secret is sealed under key ${current}: the retired keys can be removed from the key file`,
    );
    expect(fileKeys()).toHaveLength(5);
    await expectEverythingOpens();
  });

  it('never logs key material', () => {
    const logged = t.logs.lines.join('\n');
    for (const line of fileKeys()) {
      const key = Buffer.from(line, 'hex');
      expect(logged).not.toContain(line);
      expect(logged).not.toContain(key.toString('base64'));
    }
    expect(logged).toContain('secret key rotated');
  });
});

describe('POST /v1/admin/secret-key/rotate with the keys in the environment', () => {
  const oldKey = randomBytes(32);
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp({ KAAS_SECRET_KEYS_RETIRED: oldKey.toString('hex') });
    db = t.app.get(DataSource);
  }, 30000);
  afterAll(async () => {
    await t?.close();
  });

  it('makes no key, and seals what the retired key (or no key id) sealed under KAAS_SECRET_KEY', async () => {
    const answers: { key: string; body: unknown }[] = [];
    for (const name of ['env-a', 'env-b', 'env-c']) {
      const res = await t.admin.call('POST', '/v1/tenants', { name }, { 'Idempotency-Key': name });
      expect(res.status).toBe(201);
      answers.push({ key: name, body: res.body });
    }
    // As the previous KAAS_SECRET_KEY sealed them: one with a key id, one from before key ids.
    const current = t.config.secretKeys.current;
    for (const [key, seal] of [
      ['env-a', (p: string, aad: string) => encryptSecret(oldKey, p, aad)],
      ['env-b', (p: string, aad: string) => legacySeal(oldKey, p, aad)],
    ] as const) {
      const [row] = (await db.query(
        `SELECT principal, response_body->>'sealed' AS sealed FROM idempotency_records WHERE idempotency_key = $1`,
        [key],
      )) as { principal: string; sealed: string }[];
      const aad = `${row.principal}/${key}`;
      await db.query(
        `UPDATE idempotency_records SET response_body = jsonb_build_object('sealed', $2::text) WHERE idempotency_key = $1`,
        [key, seal(decryptSecret(current, row.sealed, aad), aad)],
      );
    }
    expect((await sealedKeyIds(db)).sort()).toEqual([secretKeyId(oldKey), secretKeyId(current), null].sort());

    const res = await t.admin.call<SecretKeyRotation>('POST', '/v1/admin/secret-key/rotate', {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      currentKeyId: secretKeyId(current),
      source: 'environment',
      generated: false,
      reencrypted: { clusterSecrets: 0, idempotency: 2 },
      remaining: {},
      message: expect.stringContaining('no key was generated'),
    });
    expect(await sealedKeyIds(db)).toEqual([secretKeyId(current), secretKeyId(current), secretKeyId(current)]);
    for (const a of answers) {
      const again = await t.admin.call('POST', '/v1/tenants', { name: a.key }, { 'Idempotency-Key': a.key });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(a.body);
    }

    const second = await t.admin.call<SecretKeyRotation>('POST', '/v1/admin/secret-key/rotate', {});
    expect(second.body).toEqual(
      expect.objectContaining({ generated: false, reencrypted: { clusterSecrets: 0, idempotency: 0 }, remaining: {} }),
    );
  });
});
