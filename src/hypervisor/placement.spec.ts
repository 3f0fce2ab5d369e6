import { describe, expect, it } from '@jest/globals';
import { type HostSnapshot, placeNode, placeNodes, type PlacementRequest } from './placement.js';

const settings = { cpuOvercommit: 4, memoryOvercommit: 1 };

function host(name: string, overrides: Partial<HostSnapshot> = {}): HostSnapshot {
  return {
    id: name,
    name,
    schedulable: true,
    cpus: 8,
    memoryMiB: 16384,
    allocatedVcpus: 0,
    allocatedMemoryMiB: 0,
    clusterMasters: 0,
    clusterWorkers: 0,
    ...overrides,
  };
}

const master: PlacementRequest = { vcpus: 2, memoryMiB: 2048, role: 'master' };
const worker: PlacementRequest = { vcpus: 2, memoryMiB: 2048, role: 'worker' };

describe('placement', () => {
  it('counts disk where a host knows its own, and refuses when no host has the disk left', () => {
    const small = host('small', { diskGiB: 10, allocatedDiskGiB: 8 });
    const unknown = host('unknown', { memoryMiB: 1024 });
    const req = { vcpus: 1, memoryMiB: 512, diskGiB: 5, role: 'worker' as const };
    // 'small' has more free memory but only 2 GiB of disk left.
    expect(placeNode([{ ...small, memoryMiB: 65536 }, unknown], req, settings)).toEqual({
      ok: true,
      hostId: 'unknown',
    });
    const refused = placeNode([small], req, settings);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toBe('no host has 1 vCPUs, 512 MiB and 5 GiB of disk free');
    // Placed one after another: the second 5 GiB volume no longer fits a 12 GiB host.
    const results = placeNodes([host('h', { diskGiB: 12 })], [req, req, req], settings);
    expect(results.map((r) => r.ok)).toEqual([true, true, false]);
  });

  it('spreads three masters over three hosts', () => {
    const results = placeNodes([host('a'), host('b'), host('c')], [master, master, master], settings);
    expect(results.map((r) => (r.ok ? r.hostId : r.reason)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('puts a second master on a host with a master only when no other host has room', () => {
    const full = host('b', { allocatedMemoryMiB: 16000 });
    const r = placeNodes([host('a'), full], [master, master], settings);
    expect(r).toEqual([
      { ok: true, hostId: 'a' },
      { ok: true, hostId: 'a' },
    ]);
  });

  it('never puts two masters together while another host has room, across many hosts', () => {
    const hosts = Array.from({ length: 50 }, (_, i) =>
      host(`h${String(i).padStart(2, '0')}`, { allocatedMemoryMiB: (i * 997) % 12000 }),
    );
    const results = placeNodes(
      hosts,
      Array.from({ length: 5 }, () => master),
      settings,
    );
    const chosen = results.map((r) => (r.ok ? r.hostId : 'none'));
    expect(new Set(chosen).size).toBe(5);
  });

  it('spreads workers and prefers free memory', () => {
    const hosts = [host('a', { allocatedMemoryMiB: 8000 }), host('b'), host('c', { allocatedMemoryMiB: 4000 })];
    const results = placeNodes(hosts, [worker, worker, worker, worker], settings);
    expect(results.map((r) => (r.ok ? r.hostId : ''))).toEqual(['b', 'c', 'a', 'b']);
  });

  it('skips drained and unreachable hosts', () => {
    expect(placeNode([host('a', { schedulable: false }), host('b')], worker, settings)).toEqual({
      ok: true,
      hostId: 'b',
    });
    expect(placeNode([host('a', { schedulable: false })], worker, settings)).toEqual({
      ok: false,
      reason: expect.stringMatching(/no schedulable host/),
    });
  });

  it('applies the overcommit ratios', () => {
    const busy = host('a', { cpus: 2, allocatedVcpus: 7 });
    expect(placeNode([busy], { ...worker, vcpus: 1 }, settings).ok).toBe(true);
    expect(placeNode([busy], { ...worker, vcpus: 2 }, settings)).toEqual({
      ok: false,
      reason: 'no host has 2 vCPUs and 2048 MiB free',
    });
    expect(
      placeNode([host('m', { memoryMiB: 4096, allocatedMemoryMiB: 3000 })], worker, {
        cpuOvercommit: 1,
        memoryOvercommit: 1.5,
      }).ok,
    ).toBe(true);
  });

  it('places 1,000 nodes over 100 hosts within capacity and evenly', () => {
    const hosts = Array.from({ length: 100 }, (_, i) => host(`h${i}`, { cpus: 64, memoryMiB: 262144 }));
    const results = placeNodes(
      hosts,
      Array.from({ length: 1000 }, () => worker),
      settings,
    );
    expect(results.every((r) => r.ok)).toBe(true);
    const perHost = new Map<string, number>();
    for (const r of results) if (r.ok) perHost.set(r.hostId, (perHost.get(r.hostId) ?? 0) + 1);
    expect(Math.max(...perHost.values())).toBe(10);
    expect(Math.min(...perHost.values())).toBe(10);
  });
});
