import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * scripts/check-dockerfile.mjs: the repository's Dockerfile passes, and small build contexts of its
 * own show that each rule fails when broken. Docker is not needed (nor used): the image is not built.
 */
describe('check-dockerfile', () => {
  const checker = join(process.cwd(), 'scripts', 'check-dockerfile.mjs');
  const trees: string[] = [];

  function check(root?: string): { status: number | null; out: string } {
    const r = spawnSync(process.execPath, [checker, ...(root ? ['--root', root] : [])], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  const GOOD = [
    'ARG NODE_IMAGE=node:24.22.3-bookworm-slim',
    'FROM ${NODE_IMAGE} AS build',
    'RUN apt-get update \\',
    '  && apt-get install -y --no-install-recommends g++ make \\',
    '  && rm -rf /var/lib/apt/lists/*',
    'COPY package.json ./',
    'COPY src src',
    'RUN npm ci',
    'FROM ${NODE_IMAGE} AS runtime',
    'RUN apt-get update && apt-get install -y --no-install-recommends libvirt0 && rm -rf /var/lib/apt/lists/*',
    'COPY --from=build /src/dist dist',
    'USER kaas',
    'CMD ["node", "dist/src/main.js"]',
  ].join('\n');
  const IGNORE = '.git\n.data\n.env\nnode_modules\nsrc/secret-notes\n';

  /** A build context: the good Dockerfile with some lines replaced or added. */
  function tree(dockerfile = GOOD, ignore = IGNORE): string {
    const root = mkdtempSync(join(tmpdir(), 'check-dockerfile-'));
    trees.push(root);
    const files: Record<string, string> = {
      Dockerfile: dockerfile,
      '.dockerignore': ignore,
      'package.json': '{}\n',
      'src/main.ts': '',
      'src/secret-notes/a.txt': '',
      'scripts/node-env.sh': 'KAAS_NODE_VERSION=24.22.3\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }
  const swap = (from: string, to: string) => {
    if (!GOOD.includes(from)) throw new Error(`the good Dockerfile has no "${from}"`);
    return GOOD.replace(from, to);
  };

  afterAll(() => {
    for (const t of trees) rmSync(t, { recursive: true, force: true });
  });

  it("passes the repository's Dockerfile, saying it was not built", () => {
    const r = check();
    expect(r.out).toMatch(
      /check-dockerfile: Dockerfile read \(stages build, bundles, runtime\); the image itself is not built/,
    );
    expect(r.status).toBe(0);
  });

  it('passes a good build context of its own', () => {
    const r = check(tree());
    expect(r.out).toMatch(/stages build, runtime/);
    expect(r.status).toBe(0);
  });

  it.each([
    ['no USER in the final stage', swap('USER kaas\n', ''), /the final stage sets no USER, so it runs as root/],
    ['USER root', swap('USER kaas', 'USER root'), /:12: the final stage runs as root/],
    ['USER 0:0', swap('USER kaas', 'USER 0:0'), /the final stage runs as 0/],
    ['a single stage', GOOD.split('\n').slice(0, 8).join('\n') + '\nUSER kaas\nCMD ["node"]', /one stage only/],
    ['a shell-form CMD', swap('CMD ["node", "dist/src/main.js"]', 'CMD node dist/src/main.js'), /CMD in shell form/],
    ['a missing COPY source', swap('COPY src src', 'COPY lib lib'), /:7: COPY source lib does not exist/],
    [
      'a COPY source .dockerignore excludes',
      swap('COPY src src', 'COPY src/secret-notes n'),
      /excluded by .dockerignore/,
    ],
    ['COPY --from an unknown stage', swap('--from=build', '--from=builder'), /no earlier stage of that name/],
    ['a secret in ENV', swap('USER kaas', 'ENV KAAS_ADMIN_TOKEN=abc\nUSER kaas'), /ENV KAAS_ADMIN_TOKEN has a value/],
    [
      'a secret in ARG',
      swap('FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE} AS build\nARG DB_PASSWORD=x'),
      /ARG DB_PASSWORD/,
    ],
    ['copying .data', swap('COPY src src', 'COPY .data/secrets s'), /copies .data\/secrets: secrets never go/],
    ['an untagged image', swap('node:24.22.3-bookworm-slim', 'debian'), /image debian is not pinned/],
    ['a latest tag', swap('node:24.22.3-bookworm-slim', 'node:latest'), /node:latest is not pinned/],
    ['another Node', swap('node:24.22.3', 'node:20.19.0'), /Node 20.19.0, but scripts\/node-env.sh pins 24.22.3/],
    ['build tools at run time', swap('libvirt0', 'libvirt0 g++'), /the final stage installs the build tool g\+\+/],
    [
      'apt lists kept',
      swap('libvirt0 && rm -rf /var/lib/apt/lists/*', 'libvirt0'),
      /without removing \/var\/lib\/apt\/lists/,
    ],
    [
      'recommends pulled in',
      swap('-y --no-install-recommends libvirt0', '-y libvirt0'),
      /without --no-install-recommends/,
    ],
    ['ADD', swap('COPY src src', 'ADD src src'), /ADD: use COPY/],
    ['a command with no source', swap('dist/src/main.js', 'dist/src/mian.js'), /no src\/mian.ts to compile it from/],
  ])('fails on %s', (_what, dockerfile, message) => {
    const r = check(tree(dockerfile));
    expect(r.out).toMatch(message);
    expect(r.status).toBe(1);
  });

  it('fails when the API or a worker runs without the flags of deploy/node-flags', () => {
    const root = tree(
      swap('CMD ["node", "dist/src/main.js"]', 'CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]') +
        '\n# docker run ... kaas node --max-semi-space-size=4 --heap-growing-percent=50 dist/src/worker.js\n',
    );
    mkdirSync(join(root, 'deploy'));
    writeFileSync(join(root, 'deploy', 'node-flags'), '# memory\n--max-semi-space-size=4 --heap-growing-percent=50\n');
    writeFileSync(join(root, 'src', 'worker.ts'), '');
    const r = check(root);
    expect(r.out).toMatch(
      /:13: runs dist\/src\/main.js with node flags '--max-semi-space-size=4', but deploy\/node-flags says '--max-semi-space-size=4 --heap-growing-percent=50'/,
    );
    expect(r.out).not.toMatch(/worker\.js with node flags/);
    expect(r.status).toBe(1);
  });

  it('fails when .dockerignore lets local data and secrets into the context', () => {
    const r = check(tree(GOOD, 'node_modules\n'));
    expect(r.out).toMatch(/\.dockerignore: \.data is not excluded/);
    expect(r.out).toMatch(/\.dockerignore: \.env is not excluded/);
    expect(r.status).toBe(1);
  });
});
