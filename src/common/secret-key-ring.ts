import { secretKeyId } from './secrets.js';

/** The keys secrets at rest are sealed under: the current one seals, every one opens its own. */
export class SecretKeyRing {
  readonly currentId: string;
  private readonly byId = new Map<string, Buffer>();

  constructor(
    readonly current: Buffer,
    retired: readonly Buffer[] = [],
  ) {
    this.currentId = secretKeyId(current);
    for (const key of [current, ...retired]) {
      const id = secretKeyId(key);
      if (!this.byId.has(id)) this.byId.set(id, key);
    }
  }

  /** Key ids, the current one first. */
  get ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Every key, the current one first, each once. */
  get keys(): Buffer[] {
    return [...this.byId.values()];
  }

  key(id: string): Buffer | undefined {
    return this.byId.get(id);
  }
}
