import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { DomainError } from '../common/domain-error.js';
import { KEY_FILE_RECHECK_MS, SecretBox } from '../common/secret-box.js';
import { APP_LOGGER } from '../common/tokens.js';
import {
  SEALED_TABLES,
  type Resealed,
  type SealedTable,
  SealedSecretsRepository,
} from './sealed-secrets.repository.js';
import type { SecretKeyRotationResponse } from './secret-keys.dto.js';

/** Rows read, opened, sealed again and written back per batch (one statement, one transaction). */
export const REENCRYPT_BATCH = 500;

type Counts = Record<SealedTable, number>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Rotation of the key secrets at rest are sealed under, while the platform runs: a new current
 * key (key file) or the one the operator set (environment), then every secret under another key
 * sealed again under it, batch by batch. A row that changes meanwhile is left to the next pass;
 * what is still under another key is reported, so the operator knows when retired keys can go.
 */
@Injectable()
export class SecretKeysService {
  constructor(
    private readonly box: SecretBox,
    private readonly sealed: SealedSecretsRepository,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  async rotate(): Promise<SecretKeyRotationResponse> {
    const outcome = await this.sealed.exclusively(() => this.rotateAlone());
    if (!outcome.ran) throw DomainError.conflict('a rotation of the secret key is already running');
    return outcome.value;
  }

  private async rotateAlone(): Promise<SecretKeyRotationResponse> {
    const generated = this.box.source === 'file';
    if (generated) this.box.rotateKeyFile();
    const writtenAt = Date.now();
    const reencrypted: Counts = { clusterSecrets: 0, idempotency: 0 };
    const unreadable: Counts = { clusterSecrets: 0, idempotency: 0 };
    await this.pass(reencrypted, unreadable);
    if (generated) {
      // The other processes take the new key file up within KEY_FILE_RECHECK_MS; whatever one of
      // them sealed under the previous key in that time is caught by one more pass after it.
      const settle = writtenAt + KEY_FILE_RECHECK_MS + 100 - Date.now();
      if (settle > 0) await sleep(settle);
      Object.assign(unreadable, { clusterSecrets: 0, idempotency: 0 });
      await this.pass(reencrypted, unreadable);
    }
    const currentKeyId = this.box.currentKeyId;
    const remaining: Record<string, number> = {};
    for (const table of SEALED_TABLES) {
      for (const [keyId, n] of Object.entries(await this.sealed.countByKey(table))) {
        if (keyId !== currentKeyId) remaining[keyId] = (remaining[keyId] ?? 0) + n;
      }
    }
    const lost = unreadable.clusterSecrets + unreadable.idempotency;
    this.logger.info(
      { currentKeyId, generated, reencrypted, remaining, unreadable: lost },
      'secret key rotated: secrets sealed again under the current key',
    );
    return {
      currentKeyId,
      source: this.box.source,
      generated,
      reencrypted,
      remaining,
      message: this.explain(currentKeyId, generated, remaining, lost),
    };
  }

  /** One pass over every table: each secret not under the current key is sealed again under it. */
  private async pass(reencrypted: Counts, unreadable: Counts): Promise<void> {
    for (const table of SEALED_TABLES) {
      const current = this.box.currentKeyId;
      let after: string[] | undefined;
      for (;;) {
        const rows = await this.sealed.page(table, current, after, REENCRYPT_BATCH);
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        const batch: Resealed[] = [];
        for (const row of rows) {
          try {
            batch.push({
              id: row.id,
              was: row.sealed,
              sealed: this.box.seal(this.box.open(row.sealed, row.associatedData), row.associatedData),
            });
          } catch {
            unreadable[table]++;
          }
        }
        reencrypted[table] += await this.sealed.replace(table, batch);
        if (rows.length < REENCRYPT_BATCH) break;
      }
      if (unreadable[table] > 0) {
        this.logger.warn(
          { table, unreadable: unreadable[table] },
          'sealed secrets that open under none of the keys were left as they are',
        );
      }
    }
  }

  private explain(currentKeyId: string, generated: boolean, remaining: Record<string, number>, lost: number): string {
    const done = Object.keys(remaining).length === 0;
    const parts = [
      generated
        ? `a new key ${currentKeyId} was written at the head of the key file and is now current; the keys after it are retired.`
        : `the keys come from the environment, so no key was generated: secrets were sealed again under KAAS_SECRET_KEY (key ${currentKeyId}).`,
    ];
    if (done) {
      parts.push(
        generated
          ? 'Every secret is under the current key: the retired keys can be removed from the key file.'
          : 'Every secret is under the current key: KAAS_SECRET_KEYS_RETIRED can be emptied.',
      );
    } else {
      parts.push(
        'Some secrets are still under other keys (remaining): keep those keys' +
          (generated ? '' : ' in KAAS_SECRET_KEYS_RETIRED, make sure every process runs with the current key,') +
          ' and rotate again.',
      );
    }
    if (lost > 0) parts.push(`${lost} secrets open under none of the keys and were left as they are.`);
    return parts.join(' ');
  }
}
