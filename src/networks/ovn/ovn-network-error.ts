export const OvnNetworkErrorCode = {
  /** The caller's spec cannot describe a network (a malformed id, CIDR, MAC, ...). */
  InvalidSpec: 'INVALID_SPEC',
  /** A row another call creates is not there yet (a port before its VPC): ensure that first. */
  DependencyMissing: 'DEPENDENCY_MISSING',
  /** Other writers kept changing the same rows; nothing was written by this call. */
  Contended: 'CONTENDED',
} as const;
export type OvnNetworkErrorCode = (typeof OvnNetworkErrorCode)[keyof typeof OvnNetworkErrorCode];

/** A failure of the network model or controller; OVSDB failures pass through as OvsdbError. */
export class OvnNetworkError extends Error {
  override readonly name = 'OvnNetworkError';

  constructor(
    readonly code: OvnNetworkErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
