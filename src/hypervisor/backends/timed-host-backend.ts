import { Counter, Histogram } from 'prom-client';
import type { HostBackend } from './host-backend.js';

/** The backend's asynchronous operations: each is a call to the host (libvirt, a guest's channel). */
type Operation = Exclude<keyof HostBackend, 'kind' | 'faults' | 'consoleLogPath' | 'observeDomainEvent' | 'attached'>;

const OPERATIONS = new Set<string>(
  Object.keys({
    ensurePool: 1,
    removePool: 1,
    listPools: 1,
    storageCapacityGiB: 1,
    ensureVolume: 1,
    ensureContentVolume: 1,
    storeBlobVolume: 1,
    readBlobVolume: 1,
    removeVolume: 1,
    listVolumes: 1,
    volumesInUse: 1,
    ensureDomain: 1,
    startDomain: 1,
    domainState: 1,
    domainStats: 1,
    stopDomain: 1,
    destroyDomain: 1,
    removeDomain: 1,
    listOwnedDomains: 1,
    inventory: 1,
    probeGuest: 1,
  } satisfies Record<Operation, 1>),
);

/**
 * Latency of every host backend call, by backend kind and operation. The backends are made
 * outside Nest (one per host connection), so these live here and the process that holds hosts
 * adds them to its registry (HostLeases).
 */
export const hypervisorCallSeconds = new Histogram<'backend' | 'operation'>({
  name: 'kaas_hypervisor_call_seconds',
  help: 'Duration of host backend calls (libvirt, guest probes), by backend and operation',
  labelNames: ['backend', 'operation'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [],
});

export const hypervisorCallErrors = new Counter<'backend' | 'operation'>({
  name: 'kaas_hypervisor_call_errors_total',
  help: 'Host backend calls that failed, by backend and operation',
  labelNames: ['backend', 'operation'],
  registers: [],
});

/**
 * The backend with each operation timed. Everything else (the kind, the faults, what a test reads
 * of a concrete backend) passes through untouched, and the backend's calls to its own methods are
 * not counted twice: they run on the backend itself.
 */
export function timedHostBackend(backend: HostBackend): HostBackend {
  const timed = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof property !== 'string' || typeof value !== 'function' || !OPERATIONS.has(property)) return value;
      let wrapper = timed.get(property);
      if (!wrapper) {
        const labels = { backend: target.kind, operation: property };
        wrapper = async (...args: unknown[]) => {
          const stop = hypervisorCallSeconds.startTimer(labels);
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } catch (err) {
            hypervisorCallErrors.inc(labels);
            throw err;
          } finally {
            stop();
          }
        };
        timed.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
