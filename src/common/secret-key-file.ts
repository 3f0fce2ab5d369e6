import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { parseSecretKeyFile } from '../config/config.js';
import { SecretKeyRing } from './secret-key-ring.js';

/** One version of the key file: what identifies it, and the keys it holds. */
export interface SecretKeyFileVersion {
  stamp: string;
  ring: SecretKeyRing;
}

/** Inode, size and modification time: a rename over the file or an edit of it changes them. */
function stampOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

/**
 * The key file (KAAS_SECRET_KEY_FILE): one key per line, the current one first, then retired
 * ones. It is only ever replaced whole (a temporary file renamed over it), so a process reading
 * it sees the old keys or the new ones, never half of a write.
 */
export class SecretKeyFile {
  constructor(readonly path: string) {}

  /** Cheap: one stat, to tell whether the file changed since a read. */
  stamp(): string {
    return stampOf(statSync(this.path));
  }

  read(): SecretKeyFileVersion {
    const fd = openSync(this.path, 'r');
    try {
      const stamp = stampOf(fstatSync(fd));
      const { current, retired } = parseSecretKeyFile(readFileSync(fd, 'utf8'));
      return { stamp, ring: new SecretKeyRing(current, retired) };
    } finally {
      closeSync(fd);
    }
  }

  /** Replaces the file with these keys (hex, the current one first), readable by its owner alone. */
  write(ring: SecretKeyRing): SecretKeyFileVersion {
    const temporary = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      writeFileSync(fd, `${ring.keys.map((key) => key.toString('hex')).join('\n')}\n`);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(temporary);
      throw err;
    }
    closeSync(fd);
    renameSync(temporary, this.path);
    // The rename itself survives a crash only once the directory is on disk.
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return this.read();
  }
}
