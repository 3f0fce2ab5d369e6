import type { GuestProbe, GuestProbeTarget, GuestStatus, ProbeResult } from './guest-status.js';

export interface SimulatorTimings {
  /** From domain start to the guest answering (kernel, init, network). */
  bootMs: number;
  /** From answering to ready (the bundle's install and join). */
  installMs: number;
}

export type SimulatedFault = 'crash' | 'hang' | 'unready';

interface SimulatedGuest {
  startedAt: number;
  fault?: Exclude<SimulatedFault, 'crash'>;
}

/**
 * Plays the guest side of a simulated host: runs no code, but after a start it boots, installs
 * and becomes ready on the configured timings, answering probes the way a real guest's status
 * endpoint does. Faults make a guest stop answering or report not ready; a crash is done by the
 * caller destroying the domain through libvirt, which the simulator sees as a stop.
 */
export class GuestSimulator implements GuestProbe {
  private readonly guests = new Map<string, SimulatedGuest>();

  constructor(
    private readonly timings: SimulatorTimings,
    private readonly now: () => number = Date.now,
  ) {}

  started(domainName: string): void {
    this.guests.set(domainName, { startedAt: this.now() });
  }

  stopped(domainName: string): void {
    this.guests.delete(domainName);
  }

  isRunning(domainName: string): boolean {
    return this.guests.has(domainName);
  }

  fault(domainName: string, fault: Exclude<SimulatedFault, 'crash'>): boolean {
    const guest = this.guests.get(domainName);
    if (!guest) return false;
    guest.fault = fault;
    return true;
  }

  status(domainName: string): GuestStatus | 'no-answer' {
    const guest = this.guests.get(domainName);
    if (!guest || guest.fault === 'hang') return 'no-answer';
    const elapsed = this.now() - guest.startedAt;
    if (elapsed < this.timings.bootMs) return 'no-answer';
    if (guest.fault === 'unready')
      return { stage: 'ready', ready: false, message: 'simulated: readiness probe failing' };
    if (elapsed < this.timings.bootMs + this.timings.installMs) {
      return { stage: 'installing', ready: false, message: 'simulated: installing the control plane bundle' };
    }
    return { stage: 'ready', ready: true, message: 'simulated guest ready' };
  }

  async probe(target: GuestProbeTarget): Promise<ProbeResult> {
    const status = this.status(target.domainName);
    return status === 'no-answer'
      ? { answered: false, error: 'simulated guest does not answer' }
      : { answered: true, status };
  }
}
