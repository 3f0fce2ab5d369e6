import { describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DomainError } from '../common/domain-error.js';
import { SecretBox } from '../common/secret-box.js';
import { SecretKeyRing } from '../common/secret-key-ring.js';
import { secretKeyId } from '../common/secrets.js';
import type { Resealed, SealedRow, SealedSecretsRepository, SealedTable } from './sealed-secrets.repository.js';
import { REENCRYPT_BATCH, SecretKeysService } from './secret-keys.service.js';

/** Tables in memory, with the repository's contract: keyset pages, compare-and-set writes. */
class FakeSealedSecrets {
  readonly rows: Record<SealedTable, Map<string, { sealed: string; aad: string }>> = {
    clusterSecrets: new Map(),
    idempotency: new Map(),
  };
  /** Called before a batch is written: lets a test change a row "concurrently". */
  beforeReplace: (table: SealedTable, rows: Resealed[]) => void = () => undefined;
  locked = false;

  async exclusively<T>(work: () => Promise<T>) {
    if (this.locked) return { ran: false as const };
    this.locked = true;
    try {
      return { ran: true as const, value: await work() };
    } finally {
      this.locked = false;
    }
  }

  async page(table: SealedTable, currentKeyId: string, after: string[] | undefined, limit: number) {
    return [...this.rows[table].entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .filter(([id, r]) => (!after || id > after[0]) && !r.sealed.startsWith(`k1.${currentKeyId}.`))
      .slice(0, limit)
      .map(([id, r]): SealedRow => ({ id: [id], sealed: r.sealed, associatedData: r.aad }));
  }

  async replace(table: SealedTable, rows: Resealed[]) {
    this.beforeReplace(table, rows);
    let n = 0;
    for (const r of rows) {
      const row = this.rows[table].get(r.id[0]);
      if (row?.sealed === r.was) {
        row.sealed = r.sealed;
        n++;
      }
    }
    return n;
  }

  async countByKey(table: SealedTable) {
    const counts: Record<string, number> = {};
    for (const { sealed } of this.rows[table].values()) {
      const id = sealed.startsWith('k1.') ? sealed.split('.')[1] : 'legacy';
      counts[id] = (counts[id] ?? 0) + 1;
    }
    return counts;
  }
}

function setup() {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const oldBox = new SecretBox(new SecretKeyRing(oldKey));
  const box = new SecretBox(new SecretKeyRing(newKey, [oldKey]));
  const repo = new FakeSealedSecrets();
  const logger = { info: jest.fn(), warn: jest.fn() } as unknown as Logger;
  const service = new SecretKeysService(box, repo as unknown as SealedSecretsRepository, logger);
  return { oldKey, newKey, oldBox, box, repo, logger, service };
}

describe('SecretKeysService.rotate with keys from the environment', () => {
  it('seals every secret under another key again under the current one, in batches', async () => {
    const { newKey, oldBox, box, repo, service } = setup();
    const n = REENCRYPT_BATCH * 2 + 7;
    for (let i = 0; i < n; i++) {
      const id = `c-${String(i).padStart(5, '0')}`;
      repo.rows.clusterSecrets.set(id, { sealed: oldBox.seal(`secret ${i}`, id), aad: id });
    }
    repo.rows.idempotency.set('p/k', { sealed: box.seal('already current', 'p/k'), aad: 'p/k' });
    const page = jest.spyOn(repo, 'page');

    const answer = await service.rotate();

    expect(answer).toEqual({
      currentKeyId: secretKeyId(newKey),
      source: 'environment',
      generated: false,
      reencrypted: { clusterSecrets: n, idempotency: 0 },
      remaining: {},
      message: expect.stringContaining('no key was generated'),
    });
    expect(page.mock.calls.filter(([table]) => table === 'clusterSecrets')).toHaveLength(3);
    for (const [id, row] of repo.rows.clusterSecrets) {
      expect(box.keyIdOf(row.sealed)).toBe(secretKeyId(newKey));
      expect(box.open(row.sealed, id)).toBe(`secret ${Number(id.slice(2))}`);
    }
  });

  it('skips a row changed while its batch was being sealed, and reports what is still under another key', async () => {
    const { oldKey, oldBox, repo, service } = setup();
    repo.rows.clusterSecrets.set('a', { sealed: oldBox.seal('a', 'a'), aad: 'a' });
    repo.rows.clusterSecrets.set('b', { sealed: oldBox.seal('b', 'b'), aad: 'b' });
    repo.beforeReplace = (table) => {
      if (table === 'clusterSecrets') repo.rows.clusterSecrets.get('b')!.sealed = oldBox.seal('b2', 'b');
    };

    const answer = await service.rotate();

    expect(answer.reencrypted).toEqual({ clusterSecrets: 1, idempotency: 0 });
    expect(answer.remaining).toEqual({ [secretKeyId(oldKey)]: 1 });
    expect(answer.message).toMatch(/Some secrets are still under other keys/);
    repo.beforeReplace = () => undefined;
    const again = await service.rotate();
    expect(again.reencrypted).toEqual({ clusterSecrets: 1, idempotency: 0 });
    expect(again.remaining).toEqual({});
  });

  it('leaves a secret no key opens as it is, counted under its key id', async () => {
    const { repo, service, logger } = setup();
    const lost = new SecretBox(new SecretKeyRing(randomBytes(32)));
    repo.rows.idempotency.set('p/k', { sealed: lost.seal('gone', 'p/k'), aad: 'p/k' });

    const answer = await service.rotate();

    expect(answer.reencrypted).toEqual({ clusterSecrets: 0, idempotency: 0 });
    expect(answer.remaining).toEqual({ [lost.currentKeyId]: 1 });
    expect(answer.message).toMatch(/1 secrets open under none of the keys/);
    expect(logger.warn).toHaveBeenCalledWith(
      { table: 'idempotency', unreadable: 1 },
      'sealed secrets that open under none of the keys were left as they are',
    );
  });

  it('answers 409 while another rotation holds the lock', async () => {
    const { repo, service } = setup();
    repo.locked = true;
    await expect(service.rotate()).rejects.toThrow(DomainError);
    await expect(service.rotate()).rejects.toThrow('a rotation of the secret key is already running');
  });
});
