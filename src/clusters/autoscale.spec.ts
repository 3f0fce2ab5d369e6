import { describe, expect, it } from '@jest/globals';
import { autoscaleDecision, type AutoscaleInput } from './autoscale.js';

const base: AutoscaleInput = {
  settings: { minWorkers: 1, maxWorkers: 10, targetCpuPercent: 50 },
  workers: 2,
  readyWorkerCpu: [50, 50],
  running: true,
  lastChangeAt: null,
  now: 1_000_000,
};

describe('autoscaleDecision', () => {
  it.each<[string, Partial<AutoscaleInput>, number | null]>([
    ['at target: nothing', {}, null],
    ['within the 10% tolerance: nothing', { readyWorkerCpu: [54, 54] }, null],
    ['busy: ceil(2 × 90/50) = 4', { readyWorkerCpu: [90, 90] }, 4],
    ['very busy: capped at maxWorkers', { readyWorkerCpu: [100, 100], workers: 8 }, 10],
    ['idle: ceil(4 × 10/50) = 1', { workers: 4, readyWorkerCpu: [10, 10, 10, 10] }, 1],
    [
      'idle: never under minWorkers',
      { workers: 4, readyWorkerCpu: [0, 0, 0, 0], settings: { ...base.settings, minWorkers: 2 } },
      2,
    ],
    ['below minWorkers: raised even while not Running', { workers: 0, running: false, readyWorkerCpu: [] }, 1],
    ['above maxWorkers: lowered even in cool-down', { workers: 12, lastChangeAt: 999_999 }, 10],
    ['not Running: no usage-based change', { running: false, readyWorkerCpu: [95, 95] }, null],
    ['no ready worker to measure: nothing', { readyWorkerCpu: [] }, null],
    ['in cool-down (default 120 s): nothing', { readyWorkerCpu: [95, 95], lastChangeAt: 1_000_000 - 119_000 }, null],
    ['after the cool-down: scales', { readyWorkerCpu: [95, 95], lastChangeAt: 1_000_000 - 121_000 }, 4],
    [
      'own cool-down',
      {
        readyWorkerCpu: [95, 95],
        lastChangeAt: 1_000_000 - 20_000,
        settings: { ...base.settings, cooldownSeconds: 10 },
      },
      4,
    ],
  ])('%s', (_name, over, expected) => {
    const d = autoscaleDecision({ ...base, ...over });
    expect(d?.workers ?? null).toBe(expected);
    if (d) expect(d.reason.length).toBeGreaterThan(0);
  });
});
