import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * An isolated simulated host for tests: a `test:///PATH.xml` URI whose state
 * belongs to each connection opened on it (libvirt's in-process test driver),
 * plus a scratch folder for pool targets.
 */
export interface LibvirtTestHost {
  /** `test:///<dir>/host.xml` */
  uri: string;
  /** Scratch folder; removed by cleanup(). */
  dir: string;
  cleanup(): Promise<void>;
}

export interface TestHostOptions {
  cpus?: number;
  mhz?: number;
  memoryKiB?: number;
  model?: string;
}

/**
 * Writes a `<node>` description of an empty host for the test driver. Its
 * format (see examples/xml/test/testnode.xml in libvirt) takes `<cpu>` with
 * mhz/model/active/nodes/sockets/cores/threads and `<memory>` in KiB; it may
 * also embed `<domain>`, `<network>` and `<pool>` definitions.
 */
export async function createLibvirtTestHost(options: TestHostOptions = {}): Promise<LibvirtTestHost> {
  const cpus = options.cpus ?? 4;
  const dir = await mkdtemp(join(tmpdir(), 'kaas-libvirt-'));
  const xml = `<node>
  <cpu>
    <mhz>${options.mhz ?? 2400}</mhz>
    <model>${options.model ?? 'x86_64'}</model>
    <active>${cpus}</active>
    <nodes>1</nodes>
    <sockets>1</sockets>
    <cores>${cpus}</cores>
    <threads>1</threads>
  </cpu>
  <memory>${options.memoryKiB ?? 8 * 1024 * 1024}</memory>
</node>
`;
  const file = join(dir, 'host.xml');
  await writeFile(file, xml);
  return {
    uri: `test://${file}`,
    dir,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
