/**
 * What a node's guest reports about itself. Real guests send it as one JSON line per second over
 * a virtio-serial channel that the platform reads through libvirt (`guest-status-channel.ts`);
 * simulated guests answer the same shape from memory.
 */
export const GUEST_STAGES = ['booting', 'network-up', 'installing', 'joining', 'ready', 'failed'] as const;

export type GuestStage = (typeof GUEST_STAGES)[number];

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
  /** The node's VPC address; status does not travel over it. */
  address: string | null;
  /**
   * The node the answer must come from. Guests name their node in `details.nodeId`; an answer
   * naming another node (a reused image, a guest that copied another's status) is no answer
   * from this one. When absent, the node id that the domain's name carries is used.
   */
  nodeId?: string;
}

/** How the platform asks a guest how it is. */
export interface GuestProbe {
  probe(target: GuestProbeTarget): Promise<ProbeResult>;
  /** The domain started, stopped or went away: whatever was read from it before is void. */
  forget?(domainName: string): void;
}
