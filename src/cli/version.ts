import { readFileSync } from 'node:fs';

/** Set by the single-file build (scripts/build-kaasctl.mjs); absent when running from a checkout. */
declare const __KAASCTL_VERSION__: string | undefined;

/** kaasctl's version: the one built in, else the checkout's package.json. */
export function kaasctlVersion(): string {
  if (typeof __KAASCTL_VERSION__ === 'string') return __KAASCTL_VERSION__;
  // src/cli/ under ts-jest, dist/src/cli/ once compiled
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kaas' && pkg.version) return pkg.version;
    } catch {
      // not there: the next place
    }
  }
  return 'unknown';
}
