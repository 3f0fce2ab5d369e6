import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { SecretKeyFile } from './secret-key-file.js';
import { SecretKeyRing } from './secret-key-ring.js';
import { decryptSecret, encryptSecret, sealedKeyId } from './secrets.js';

/** How often, at most, the key file is looked at for a change (one stat). */
export const KEY_FILE_RECHECK_MS = 1000;

export interface SecretBoxOptions {
  /** Where the keys live when they do not come from the environment. */
  file?: SecretKeyFile;
  logger?: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
}

/**
 * Seals and opens the secrets kept at rest (cluster secrets, stored idempotent answers) under the
 * platform's key ring: every new secret under the current key, each old one under the key its id
 * names. With the keys in the key file, a rotation made by any process reaches this one within
 * KEY_FILE_RECHECK_MS, or at once when it meets a secret sealed under a key it does not know yet.
 * Keys never leave this class but through the key file.
 */
export class SecretBox {
  private ring: SecretKeyRing;
  private stamp: string | undefined;
  private checkedAt: number;
  private readonly now: () => number;

  constructor(
    ring: SecretKeyRing,
    private readonly options: SecretBoxOptions = {},
  ) {
    this.ring = ring;
    this.now = options.now ?? Date.now;
    // With a key file, the first use reads it: it may have changed since the configuration was read.
    this.checkedAt = options.file ? -Infinity : this.now();
  }

  static fromConfig(config: AppConfig, logger?: Pick<Logger, 'info' | 'warn'>): SecretBox {
    const { source, current, retired } = config.secretKeys;
    return new SecretBox(new SecretKeyRing(current, retired), {
      file: source === 'file' ? new SecretKeyFile(config.secretKeyFile) : undefined,
      logger,
    });
  }

  /** `file`: rotations write a new key there; `environment`: the operator sets the keys. */
  get source(): 'file' | 'environment' {
    return this.options.file ? 'file' : 'environment';
  }

  get currentKeyId(): string {
    this.refresh();
    return this.ring.currentId;
  }

  /** Key ids this process can open, the current one first. */
  get keyIds(): string[] {
    this.refresh();
    return this.ring.ids;
  }

  seal(plaintext: string, associatedData: string): string {
    this.refresh();
    return encryptSecret(this.ring.current, plaintext, associatedData);
  }

  open(sealed: string, associatedData: string): string {
    this.refresh();
    const id = sealedKeyId(sealed);
    if (id === null) return this.openUnversioned(sealed, associatedData);
    let key = this.ring.key(id);
    if (!key) {
      // Sealed by a process that has already read a newer key file than this one has.
      this.refresh(true);
      key = this.ring.key(id);
    }
    if (!key) {
      throw new Error(
        `the secret is sealed under key ${id}, which is not among this process's keys (${this.ring.ids.join(', ')}); ` +
          'put it back among the retired keys (key file or KAAS_SECRET_KEYS_RETIRED)',
      );
    }
    try {
      return decryptSecret(key, sealed, associatedData);
    } catch {
      throw new Error(
        `the secret sealed under key ${id} does not verify: it belongs to something else, or was altered`,
      );
    }
  }

  /** The id of the key `sealed` is under; null when it was sealed before key ids existed. */
  keyIdOf(sealed: string): string | null {
    return sealedKeyId(sealed);
  }

  /**
   * Key file only: puts a new random key at the head of the file, every key it held after it,
   * and seals with it from now on. Callers serialize rotations (the file is read, then replaced).
   */
  rotateKeyFile(): string {
    const file = this.options.file;
    if (!file) throw new Error('the secret keys come from the environment: no key file to rotate');
    const { ring } = file.read();
    const written = file.write(new SecretKeyRing(randomBytes(32), ring.keys));
    this.ring = written.ring;
    this.stamp = written.stamp;
    this.checkedAt = this.now();
    this.options.logger?.info({ currentKeyId: this.ring.currentId }, 'a new secret key was written to the key file');
    return this.ring.currentId;
  }

  private openUnversioned(sealed: string, associatedData: string): string {
    for (const key of this.ring.keys) {
      try {
        return decryptSecret(key, sealed, associatedData);
      } catch {
        // another key, or not this secret's associated data: try the next one
      }
    }
    throw new Error(
      `the secret (sealed before key ids) opens under none of this process's keys (${this.ring.ids.join(', ')})`,
    );
  }

  /** Re-reads the key file when it changed: a stat at most once per KEY_FILE_RECHECK_MS unless forced. */
  private refresh(force = false): void {
    const file = this.options.file;
    if (!file) return;
    const now = this.now();
    if (!force && now - this.checkedAt < KEY_FILE_RECHECK_MS) return;
    this.checkedAt = now;
    let stamp: string;
    try {
      stamp = file.stamp();
    } catch (err) {
      this.options.logger?.warn(
        { path: file.path, err: (err as Error).message },
        'the secret key file cannot be read; the keys already loaded stay in use',
      );
      return;
    }
    if (stamp === this.stamp) return;
    try {
      const version = file.read();
      const before = this.ring.currentId;
      this.ring = version.ring;
      this.stamp = version.stamp;
      this.options.logger?.info(
        { previousKeyId: before, currentKeyId: this.ring.currentId, keyIds: this.ring.ids },
        'secret keys reloaded from the key file',
      );
    } catch (err) {
      // Remembered, so that a bad file is reported once per change rather than on every use.
      this.stamp = stamp;
      this.options.logger?.warn(
        { path: file.path, err: (err as Error).message },
        'the secret key file does not parse; the keys already loaded stay in use',
      );
    }
  }
}
