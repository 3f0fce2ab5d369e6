import type { Logger } from 'pino';
import { loadLibvirtBinding } from '../hypervisor/libvirt/libvirt-binding.js';

/** glibc's malloc_trim(0), through the project's native addon. */
function trimWithBinding(): boolean {
  return loadLibvirtBinding().trimMemory();
}

/**
 * Returns the C library's free memory to the system every `intervalMs` (0: never). What a burst
 * of work frees outside V8's heap (the compilers' zones, socket buffers, libvirt's replies) stays
 * in glibc's heaps otherwise, and counts in the process's resident memory until it is reused:
 * 25 to 35 MiB of the API's and the worker's after they start (bench/README.md, "Memory"). A trim
 * takes well under a millisecond when there is little to give back. Returns what stops it.
 */
export function startMemoryTrim(intervalMs: number, logger: Logger, trim: () => boolean = trimWithBinding): () => void {
  if (intervalMs <= 0) return () => undefined;
  try {
    trim();
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'free memory is not returned to the system');
    return () => undefined;
  }
  const timer = setInterval(trim, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
