import { beforeEach, describe, expect, it } from '@jest/globals';
import type { HostBackend } from './host-backend.js';
import { hypervisorCallErrors, hypervisorCallSeconds, timedHostBackend } from './timed-host-backend.js';

/** A backend with just what the test calls; `inventory` calls `listOwnedDomains` on itself. */
class FakeBackend {
  readonly kind = 'simulated' as const;
  readonly conn = { uri: 'test:///default' };
  async listOwnedDomains() {
    return [{ name: 'kaas-node-1', active: true }];
  }
  async inventory() {
    return { domains: await this.listOwnedDomains(), pools: [] };
  }
  async startDomain(name: string): Promise<{ started: boolean }> {
    throw new Error(`no domain ${name}`);
  }
  consoleLogPath(name: string) {
    return `/var/log/${name}`;
  }
}

async function count(operation: string): Promise<number> {
  const sample = (await hypervisorCallSeconds.get()).values.find(
    (v) => v.metricName === 'kaas_hypervisor_call_seconds_count' && v.labels.operation === operation,
  );
  return sample?.value ?? 0;
}

async function errors(operation: string): Promise<number> {
  return (await hypervisorCallErrors.get()).values.find((v) => v.labels.operation === operation)?.value ?? 0;
}

describe('timedHostBackend', () => {
  let backend: HostBackend & FakeBackend;

  beforeEach(() => {
    hypervisorCallSeconds.reset();
    hypervisorCallErrors.reset();
    backend = timedHostBackend(new FakeBackend() as unknown as HostBackend) as HostBackend & FakeBackend;
  });

  it('times each call by backend and operation, once even when the backend calls itself', async () => {
    expect((await backend.inventory()).domains).toHaveLength(1);
    expect(await count('inventory')).toBe(1);
    // inventory's own call to listOwnedDomains runs on the backend itself: not a second call.
    expect(await count('listOwnedDomains')).toBe(0);
    await backend.listOwnedDomains();
    expect(await count('listOwnedDomains')).toBe(1);
    const labels = (await hypervisorCallSeconds.get()).values.find((v) => v.labels.operation === 'inventory')!.labels;
    expect(labels).toEqual(expect.objectContaining({ backend: 'simulated', operation: 'inventory' }));
  });

  it('counts a failed call, and passes its error on', async () => {
    await expect(backend.startDomain('kaas-node-9')).rejects.toThrow('no domain kaas-node-9');
    expect(await count('startDomain')).toBe(1);
    expect(await errors('startDomain')).toBe(1);
  });

  it('leaves everything else as it is', () => {
    expect(backend.kind).toBe('simulated');
    expect(backend.conn).toEqual({ uri: 'test:///default' });
    expect(backend.consoleLogPath('kaas-node-1')).toBe('/var/log/kaas-node-1');
  });
});
