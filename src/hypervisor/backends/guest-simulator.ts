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
  /** Simulated CPU load (share of all vCPUs, 0-100) since loadSince; CPU time integrates it. */
  loadPercent: number;
  loadSince: number;
  cpuTimeNs: number;
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
    const now = this.now();
    this.guests.set(domainName, { startedAt: now, loadPercent: 0, loadSince: now, cpuTimeNs: 0 });
  }

  /** A guest found running that this simulator did not see start: it has booted and is ready. */
  adopt(domainName: string): void {
    const now = this.now();
    const startedAt = now - this.timings.bootMs - this.timings.installMs;
    this.guests.set(domainName, { startedAt, loadPercent: 0, loadSince: now, cpuTimeNs: 0 });
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

  /** Makes the guest use this share of its vCPUs from now on (for usage and autoscaling). */
  setCpuLoad(domainName: string, cpuPercent: number, vcpus: number): boolean {
    const guest = this.guests.get(domainName);
    if (!guest) return false;
    guest.cpuTimeNs = this.cpuTimeNs(domainName, vcpus) ?? 0;
    guest.loadSince = this.now();
    guest.loadPercent = Math.max(0, Math.min(100, cpuPercent));
    return true;
  }

  /** The guest's CPU time so far, as libvirt would report it for a real guest. */
  cpuTimeNs(domainName: string, vcpus: number): number | undefined {
    const guest = this.guests.get(domainName);
    if (!guest) return undefined;
    return guest.cpuTimeNs + (this.now() - guest.loadSince) * 1e6 * vcpus * (guest.loadPercent / 100);
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
