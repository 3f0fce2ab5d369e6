import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, relative as relativePath } from 'node:path';
import type { Logger } from 'pino';
import { DomainError } from '../common/domain-error.js';
import { APP_CONFIG, APP_LOGGER } from '../common/tokens.js';
import type { AppConfig } from '../config/config.js';
import type { LeaveMethod } from './control-plane-leave.js';

export interface BundleManifest {
  name: string;
  description: string;
  defaultVersion: string;
  /**
   * Each version's files, the versions a cluster may be upgraded to it from, and the guest image
   * its nodes boot (an image the operator registered, by name; the default image when absent).
   */
  versions: Record<string, { artifacts: string[]; upgradeFrom?: string[]; image?: string }>;
  checksums: string;
  scripts: { common: string; master: string; worker: string };
  /**
   * Where the cluster's floating IP answers, and what speaks there: `kubernetes` (a kubeconfig is
   * its client's credential; the default) or `etcd` (etcdctl with the cluster's certificates).
   */
  endpoint: { port: number; scheme: 'https' | 'http'; protocol?: EndpointProtocol };
  readiness: { port: number; path: string };
  /** How a node leaves the control plane before its VM is destroyed (scale-down, replacement). */
  leave?: Partial<Record<'master' | 'worker', LeaveMethod>>;
  /**
   * How the platform backs the control plane up, from outside the guests through the cluster's
   * endpoint: `etcd-snapshot` (etcd's v3 snapshot API). A bundle without it takes no backups.
   */
  backup?: 'etcd-snapshot';
}

export type EndpointProtocol = 'kubernetes' | 'etcd';

export interface BundleVersionState {
  version: string;
  available: boolean;
  problems: string[];
}

export interface Bundle {
  dir: string;
  /**
   * Short digest of the bundle's checksum list: names the bundle volume on the hosts, so that
   * replaced artifacts reach new nodes as a new volume instead of an old copy.
   */
  digest: string;
  manifest: BundleManifest;
  versions: BundleVersionState[];
}

/**
 * The file's SHA-256, read through one buffer: a stream would leave a new 64 KiB buffer behind
 * for every chunk, and the bundles' hundreds of MiB of artifacts, hashed at start-up, made the
 * process's memory jump by tens of MiB until the garbage was collected (bench/README.md).
 */
async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    // By the path as listed (relative to the list's folder); the first file of each name also
    // answers to its name alone, as lists without folders name them.
    if (m) {
      sums.set(m[2], m[1]);
      const name = m[2].replace(/^.*\//, '');
      if (!sums.has(name)) sums.set(name, m[1]);
    }
  }
  return sums;
}

/** Checks one version: every artifact present and matching its listed checksum. */
export async function verifyBundleVersion(
  dir: string,
  manifest: BundleManifest,
  version: string,
): Promise<BundleVersionState> {
  const problems: string[] = [];
  const sumsPath = join(dir, manifest.checksums);
  const sums = existsSync(sumsPath) ? parseSums(readFileSync(sumsPath, 'utf8')) : new Map<string, string>();
  for (const artifact of manifest.versions[version].artifacts) {
    const path = join(dir, artifact);
    if (!existsSync(path)) {
      problems.push(`missing file ${manifest.name}/${artifact}`);
      continue;
    }
    // Named in the checksum list by their path from the list's folder (versions keep their
    // files apart in folders of their own), or by their file name alone.
    const relative = relativePath(join(dir, dirname(manifest.checksums)), path);
    const expected = sums.get(relative) ?? sums.get(artifact.replace(/^.*\//, ''));
    if (!expected) problems.push(`no checksum for ${manifest.name}/${artifact} in ${manifest.checksums}`);
    else if ((await sha256File(path)) !== expected) problems.push(`checksum mismatch for ${manifest.name}/${artifact}`);
  }
  for (const [role, method] of Object.entries(manifest.leave ?? {})) {
    if (method !== 'etcd-member-remove' && method !== 'kubernetes-drain')
      problems.push(`unknown leave method "${String(method)}" for ${role}s in ${manifest.name}/manifest.json`);
  }
  if (manifest.backup !== undefined && manifest.backup !== 'etcd-snapshot')
    problems.push(`unknown backup method "${String(manifest.backup)}" in ${manifest.name}/manifest.json`);
  const protocol = manifest.endpoint.protocol;
  if (protocol !== undefined && protocol !== 'kubernetes' && protocol !== 'etcd')
    problems.push(`unknown endpoint protocol "${String(protocol)}" in ${manifest.name}/manifest.json`);
  for (const script of Object.values(manifest.scripts)) {
    if (!existsSync(join(dir, script))) problems.push(`missing script ${manifest.name}/${script}`);
  }
  return { version, available: problems.length === 0, problems };
}

/** The control-plane bundles shipped in bundles/, verified at start-up. */
@Injectable()
export class BundlesService implements OnModuleInit {
  private readonly bundles = new Map<string, Bundle>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  async reload(): Promise<void> {
    this.bundles.clear();
    const root = this.config.bundlesDir;
    if (!existsSync(root)) return;
    for (const name of readdirSync(root)) {
      const manifestPath = join(root, name, 'manifest.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as BundleManifest;
      const versions = await Promise.all(
        Object.keys(manifest.versions).map((v) => verifyBundleVersion(join(root, name), manifest, v)),
      );
      const sums = join(root, name, manifest.checksums);
      const digest = createHash('sha256')
        .update(existsSync(sums) ? readFileSync(sums) : '')
        .digest('hex')
        .slice(0, 12);
      this.bundles.set(manifest.name, { dir: join(root, name), manifest, versions, digest });
      for (const v of versions) {
        if (v.available) this.logger.info({ bundle: manifest.name, version: v.version }, 'control-plane bundle ready');
        else
          this.logger.warn(
            { bundle: manifest.name, version: v.version, problems: v.problems },
            'control-plane bundle unavailable',
          );
      }
    }
  }

  list(): Bundle[] {
    return [...this.bundles.values()];
  }

  get(name: string): Bundle | undefined {
    return this.bundles.get(name);
  }

  /** Resolves name and version for a new cluster, or explains in a 4xx why not. */
  resolve(name: string, version: string | undefined): { bundle: Bundle; version: string } {
    const bundle = this.bundles.get(name);
    if (!bundle) {
      throw DomainError.validation(
        'controlPlane',
        `unknown bundle "${name}"; available: ${[...this.bundles.keys()].join(', ') || 'none'}`,
      );
    }
    const v = version ?? bundle.manifest.defaultVersion;
    const state = bundle.versions.find((s) => s.version === v);
    if (!state) {
      throw DomainError.validation(
        'version',
        `bundle "${name}" has no version ${v}; it has ${Object.keys(bundle.manifest.versions).join(', ')}`,
      );
    }
    if (!state.available) {
      throw DomainError.unprocessable(`bundle ${name} ${v} is not installed: ${state.problems.join('; ')}`, {
        field: 'controlPlane',
        problems: state.problems,
      });
    }
    return { bundle, version: v };
  }

  /**
   * Checks that a cluster at `from` may roll to `to` (listed in `to`'s upgradeFrom, and
   * installed); a 422 naming `version` otherwise.
   */
  checkUpgrade(name: string, from: string, to: string): void {
    const known = this.bundles.get(name)?.manifest.versions[to];
    if (!known)
      throw DomainError.unprocessable(
        `version: bundle ${name} has no version ${to}; it has ${Object.keys(this.bundles.get(name)?.manifest.versions ?? {}).join(', ')}`,
        { field: 'version', from, to },
      );
    const { bundle } = this.resolve(name, to);
    const allowed = bundle.manifest.versions[to].upgradeFrom ?? [];
    if (allowed.includes(from)) return;
    const downgrade = compareVersions(to, from) < 0;
    throw DomainError.unprocessable(
      `version: bundle ${name} cannot go from ${from} to ${to}` +
        (downgrade ? ' (a downgrade)' : '') +
        `; ${to} can be reached from ${allowed.length ? allowed.join(', ') : 'no other version'}`,
      { field: 'version', from, to, upgradeFrom: allowed },
    );
  }

  /** The guest image a version's nodes boot, by name; undefined: the platform's default image. */
  imageOf(name: string, version: string): string | undefined {
    return this.bundles.get(name)?.manifest.versions[version]?.image;
  }

  script(bundle: Bundle, which: keyof BundleManifest['scripts']): string {
    return readFileSync(join(bundle.dir, bundle.manifest.scripts[which]), 'utf8');
  }
}

/** Orders versions like v3.4.23 < v3.5.16 (numbers compared as numbers). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .replace(/^v/, '')
      .split(/[.+-]/)
      .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0;
    const q = y[i] ?? 0;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    return String(p) < String(q) ? -1 : 1;
  }
  return 0;
}
