import { broadcast, type Cidr, contains, formatIpv4, parseCidr, parseIpv4 } from '../../common/cidr.js';
import { OvnNetworkError, OvnNetworkErrorCode } from './ovn-network-error.js';

/*
 * Checks of what callers hand the model. The platform validated its inputs long before, so a
 * failure here is a bug upstream; it is reported precisely rather than written into OVN, where
 * it would surface much later as a northd complaint or a silently dead port.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Chassis names (Open vSwitch system-ids) and physical network names: no quoting needed anywhere. */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function invalid(message: string): OvnNetworkError {
  return new OvnNetworkError(OvnNetworkErrorCode.InvalidSpec, message);
}

export function checkUuid(what: string, value: string): string {
  if (!UUID.test(value)) throw invalid(`${what} must be a lowercase UUID, not ${JSON.stringify(value)}`);
  return value;
}

export function checkMac(what: string, value: string): string {
  if (!MAC.test(value))
    throw invalid(`${what} must be a lowercase MAC like 02:00:00:0a:00:01, not ${JSON.stringify(value)}`);
  if ((parseInt(value.slice(0, 2), 16) & 1) === 1) throw invalid(`${what} ${value} is a multicast MAC`);
  return value;
}

export function checkPlainName(what: string, value: string): string {
  if (!PLAIN_NAME.test(value)) throw invalid(`${what} must match ${PLAIN_NAME.source}, not ${JSON.stringify(value)}`);
  return value;
}

export function checkIpv4(what: string, value: string): number {
  const address = parseIpv4(value);
  if (address === undefined) throw invalid(`${what} must be an IPv4 address, not ${JSON.stringify(value)}`);
  return address;
}

export function checkCidr(what: string, value: string): Cidr {
  const parsed = parseCidr(value);
  if (!parsed.ok) throw invalid(`${what}: ${parsed.problem}`);
  if (parsed.cidr.prefix > 30) throw invalid(`${what} ${value} leaves no room for a gateway and a host`);
  return parsed.cidr;
}

/** `a.b.c.d/p` where the address is a host of the network (a router port's `networks` entry). */
export function checkInterfaceAddress(what: string, value: string): { address: string; cidr: Cidr } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(value);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || !(prefix >= 1 && prefix <= 30))
    throw invalid(`${what} must look like 10.250.0.10/24, not ${JSON.stringify(value)}`);
  const address = checkIpv4(what, m[1]);
  const mask = (~0 << (32 - prefix)) >>> 0;
  const cidr = { network: (address & mask) >>> 0, prefix };
  if (address === cidr.network || address === broadcast(cidr)) {
    throw invalid(`${what} ${value} is the network's own or broadcast address`);
  }
  return { address: formatIpv4(address), cidr };
}

export function checkHostOf(what: string, value: string, cidr: Cidr): number {
  const address = checkIpv4(what, value);
  if (!contains(cidr, { network: address, prefix: 32 }) || address === cidr.network || address === broadcast(cidr)) {
    throw invalid(`${what} ${value} is not a host address of ${formatIpv4(cidr.network)}/${cidr.prefix}`);
  }
  return address;
}

export function checkInteger(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

export function checkDistinct(what: string, values: readonly string[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw invalid(`${what} names ${v} twice`);
    seen.add(v);
  }
}
