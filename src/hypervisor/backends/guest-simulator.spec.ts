import { describe, expect, it } from '@jest/globals';
import { GuestSimulator } from './guest-simulator.js';

describe('GuestSimulator', () => {
  let clock = 0;
  const sim = new GuestSimulator({ bootMs: 1000, installMs: 2000 }, () => clock);

  it('boots, installs and becomes ready on its timings', () => {
    sim.started('d1');
    expect(sim.status('d1')).toBe('no-answer');
    clock = 1500;
    expect(sim.status('d1')).toEqual(expect.objectContaining({ stage: 'installing', ready: false }));
    clock = 3000;
    expect(sim.status('d1')).toEqual(expect.objectContaining({ stage: 'ready', ready: true }));
  });

  it('stops answering when hung and reports not ready when told', async () => {
    expect(sim.fault('d1', 'unready')).toBe(true);
    expect(sim.status('d1')).toEqual(expect.objectContaining({ ready: false }));
    sim.fault('d1', 'hang');
    await expect(sim.probe({ domainName: 'd1', address: null })).resolves.toEqual({
      answered: false,
      error: expect.any(String),
    });
  });

  it('forgets a stopped guest and restarts from zero', () => {
    sim.stopped('d1');
    expect(sim.isRunning('d1')).toBe(false);
    expect(sim.fault('d1', 'hang')).toBe(false);
    sim.started('d1');
    expect(sim.status('d1')).toBe('no-answer');
  });

  it('takes a guest found running as booted and ready, until it starts again', () => {
    clock = 10_000;
    sim.adopt('found');
    expect(sim.status('found')).toEqual(expect.objectContaining({ stage: 'ready', ready: true }));
    sim.started('found');
    expect(sim.status('found')).toBe('no-answer');
  });
});
