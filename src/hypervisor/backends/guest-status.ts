/**
 * What a node's guest reports about itself. Real guests publish it as JSON at
 * http://<node address>:8099/status (written by the bundle's scripts); simulated guests answer the
 * same shape from memory.
 */
export type GuestStage = 'booting' | 'network-up' | 'installing' | 'joining' | 'ready' | 'failed';

export interface GuestStatus {
  stage: GuestStage;
  /** The bundle's own readiness verdict, e.g. etcd member healthy and quorum reached. */
  ready: boolean;
  message?: string;
  /** Bundle-specific facts (member id, endpoints...). */
  details?: Record<string, unknown>;
}

export type ProbeResult = { answered: true; status: GuestStatus } | { answered: false; error: string };

export interface GuestProbeTarget {
  domainName: string;
  address: string | null;
  /**
   * The node the answer must come from. Guests name their node in `details.nodeId`; an answer
   * naming another node (a stale VM still on a reused address, or a guest of another host's VPC
   * with the same CIDR reached through the wrong host) is no answer from this one.
   */
  nodeId?: string;
}

/** How the platform asks a guest how it is. */
export interface GuestProbe {
  probe(target: GuestProbeTarget): Promise<ProbeResult>;
}

export const GUEST_STATUS_PORT = 8099;

/** Probes a real guest over its VPC address (the platform runs where the VPC bridges are). */
export class HttpGuestProbe implements GuestProbe {
  constructor(private readonly timeoutMs = 2000) {}

  async probe(target: GuestProbeTarget): Promise<ProbeResult> {
    if (!target.address) return { answered: false, error: 'node has no address yet' };
    try {
      const res = await fetch(`http://${target.address}:${GUEST_STATUS_PORT}/status`, {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) return { answered: false, error: `status endpoint answered ${res.status}` };
      const body = (await res.json()) as Partial<GuestStatus>;
      if (typeof body.stage !== 'string') return { answered: false, error: 'status without a stage' };
      const from = body.details?.nodeId;
      if (target.nodeId && typeof from === 'string' && from !== '' && from !== target.nodeId)
        return { answered: false, error: `${target.address} is answered by another node (${from.slice(0, 64)})` };
      return {
        answered: true,
        status: { stage: body.stage, ready: body.ready === true, message: body.message, details: body.details },
      };
    } catch (err) {
      return { answered: false, error: (err as Error).message };
    }
  }
}
