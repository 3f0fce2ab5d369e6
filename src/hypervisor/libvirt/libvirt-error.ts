import { LIBVIRT } from './libvirt-constants.js';

/**
 * A failed libvirt call: `code` is libvirt's virErrorNumber and `domain` its
 * virErrorDomain (the subsystem that reported it), both as in
 * `LIBVIRT.VIR_ERR_*` / `LIBVIRT.VIR_FROM_*`.
 */
export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  readonly code: number;
  readonly domain: number;
  /** libvirt's own message, unchanged. */
  readonly libvirtMessage: string;
  /** The binding call that failed, e.g. 'startDomain'. */
  readonly operation: string;

  constructor(code: number, domain: number, libvirtMessage: string, operation: string) {
    super(operation ? `${operation}: ${libvirtMessage}` : libvirtMessage);
    this.code = code;
    this.domain = domain;
    this.libvirtMessage = libvirtMessage;
    this.operation = operation;
  }
}

/** The shape of the errors the native addon rejects with. */
interface NativeLibvirtError {
  isLibvirtError: true;
  code: number;
  domain: number;
  libvirtMessage: string;
}

function isNativeLibvirtError(err: unknown): err is NativeLibvirtError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Record<string, unknown>;
  return (
    e['isLibvirtError'] === true &&
    typeof e['code'] === 'number' &&
    typeof e['domain'] === 'number' &&
    typeof e['libvirtMessage'] === 'string'
  );
}

/**
 * Converts a rejection of the native addon into a LibvirtError; any other
 * value (e.g. a TypeError for a bad argument) is returned unchanged.
 */
export function toLibvirtError(err: unknown, operation: string): unknown {
  if (err instanceof LibvirtError) return err;
  if (isNativeLibvirtError(err)) {
    return new LibvirtError(err.code, err.domain, err.libvirtMessage, operation);
  }
  return err;
}

export function isLibvirtError(err: unknown): err is LibvirtError {
  return err instanceof LibvirtError;
}

/** True if `err` is a LibvirtError with one of `codes`. */
export function hasLibvirtCode(err: unknown, ...codes: number[]): err is LibvirtError {
  return err instanceof LibvirtError && codes.includes(err.code);
}

/** The named domain, network, storage pool or volume does not exist. */
export function isNotFound(err: unknown): err is LibvirtError {
  return hasLibvirtCode(
    err,
    LIBVIRT.VIR_ERR_NO_DOMAIN,
    LIBVIRT.VIR_ERR_NO_NETWORK,
    LIBVIRT.VIR_ERR_NO_STORAGE_POOL,
    LIBVIRT.VIR_ERR_NO_STORAGE_VOL,
  );
}

/**
 * An object with that name or UUID exists already. libvirt reports this with
 * VIR_ERR_DOM_EXIST / VIR_ERR_STORAGE_VOL_EXIST in most drivers; for storage
 * pools it uses VIR_ERR_OPERATION_FAILED with a message, which is matched here
 * too.
 */
export function isAlreadyExists(err: unknown): err is LibvirtError {
  if (hasLibvirtCode(err, LIBVIRT.VIR_ERR_DOM_EXIST, LIBVIRT.VIR_ERR_STORAGE_VOL_EXIST)) return true;
  return (
    hasLibvirtCode(err, LIBVIRT.VIR_ERR_OPERATION_FAILED, LIBVIRT.VIR_ERR_INTERNAL_ERROR) &&
    /already exists/i.test(err.libvirtMessage)
  );
}

/** The call is not valid in the object's current state (e.g. starting a running domain). */
export function isOperationInvalid(err: unknown): err is LibvirtError {
  return hasLibvirtCode(err, LIBVIRT.VIR_ERR_OPERATION_INVALID);
}

/** The driver behind the connection does not implement the call. */
export function isUnsupported(err: unknown): err is LibvirtError {
  return hasLibvirtCode(err, LIBVIRT.VIR_ERR_NO_SUPPORT, LIBVIRT.VIR_ERR_OPERATION_UNSUPPORTED);
}

/**
 * The connection itself is unusable (closed by us, never opened, or the link
 * to libvirtd failed): the caller should reconnect rather than retry.
 */
export function isConnectionError(err: unknown): err is LibvirtError {
  if (hasLibvirtCode(err, LIBVIRT.VIR_ERR_NO_CONNECT, LIBVIRT.VIR_ERR_INVALID_CONN)) return true;
  return (
    err instanceof LibvirtError &&
    (err.domain === LIBVIRT.VIR_FROM_RPC || err.domain === LIBVIRT.VIR_FROM_REMOTE) &&
    (err.code === LIBVIRT.VIR_ERR_SYSTEM_ERROR ||
      err.code === LIBVIRT.VIR_ERR_RPC ||
      err.code === LIBVIRT.VIR_ERR_INTERNAL_ERROR)
  );
}
