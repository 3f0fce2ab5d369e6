import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * scripts/check-deps.mjs on small trees of its own. jq stands for "installed here, not part of a
 * bare Debian": scripts/deps.sh installs it, so it is on every machine that runs `make test`.
 */
describe('check-deps', () => {
  const checker = join(process.cwd(), 'scripts', 'check-deps.mjs');
  const trees: string[] = [];
  // Kept out of this file's own text as a call, or the real check would find it here.
  const SPAWN = 'execFileSync';
  const NOWHERE = 'kaas-no-such-program';

  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'check-deps-'));
    trees.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }
  function check(root: string): { status: number | null; out: string } {
    const r = spawnSync(process.execPath, [checker, '--root', root], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }
  const deps = (...pkgs: string[]) => `#!/usr/bin/env bash\nPKGS=(${pkgs.join(' ')})\n`;

  afterAll(() => {
    for (const t of trees) rmSync(t, { recursive: true, force: true });
  });

  const script = '#!/usr/bin/env bash\nset -euo pipefail\nv=$(jq -r .version "$1")\necho "$v"\n';

  it('fails on a program from a package no install step names, naming program, file and package', () => {
    const r = check(tree({ 'scripts/deps.sh': deps('curl'), 'scripts/report.sh': script }));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/check-deps: jq: from Debian package jq, .* spawned by scripts\/report\.sh:3/);
  });

  it('passes once the package is in PKGS', () => {
    const r = check(tree({ 'scripts/deps.sh': deps('curl', 'jq'), 'scripts/report.sh': script }));
    expect(r.out).toMatch(/check-deps: 1 programs spawned/);
    expect(r.status).toBe(0);
  });

  it('counts the base system (coreutils, grep, sed) without any list', () => {
    const r = check(tree({ 'scripts/deps.sh': deps(), 'scripts/x.sh': 'ls | grep -c x | sed s/1/one/\n' }));
    expect(r.status).toBe(0);
  });

  it("finds programs behind a script's own wrapper, in TypeScript, and ones not installed at all", () => {
    const r = check(
      tree({
        'scripts/deps.sh': deps('curl'),
        'scripts/x.sh': 'quiet() { "$@" >/dev/null 2>&1; }\nquiet jq . f.json\n',
        'test/x.test.ts': `import { ${SPAWN} } from 'node:child_process';\n${SPAWN}('${NOWHERE}', ['-v']);\n`,
      }),
    );
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/check-deps: jq: from Debian package jq, .* spawned by scripts\/x\.sh:2/);
    expect(r.out).toContain(`check-deps: ${NOWHERE}: not installed on this machine; spawned by test/x.test.ts:2`);
  });

  it('does not take case patterns, heredoc text or guest-side scripts for programs', () => {
    const r = check(
      tree({
        'scripts/deps.sh': deps(),
        'scripts/x.sh':
          'case "$1" in\n  jq) echo no ;;\n  *) cat <<EOF\njq .\nEOF\n  ;;\nesac\n' +
          'if [[ $n =~ ^(jq|xz) ]]; then :; fi\n',
        'scripts/guest/rootfs/etc/rc': '#!/bin/sh\njq .\n',
        'bundles/b/scripts/common.sh': 'jq .\n',
      }),
    );
    expect(r.out).not.toContain('jq');
    expect(r.status).toBe(0);
  });
});
