/** IPv4 arithmetic for VPCs, IPAM and floating-IP ranges. Pure functions, unit-tested. */

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefix: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseIpv4(text: string): number | undefined {
  if (!IPV4.test(text)) return undefined;
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function broadcast(c: Cidr): number {
  return c.network + size(c) - 1;
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** The private ranges a VPC may use (RFC 1918). */
export const PRIVATE_RANGES: Cidr[] = [
  { network: parseIpv4('10.0.0.0')!, prefix: 8 },
  { network: parseIpv4('172.16.0.0')!, prefix: 12 },
  { network: parseIpv4('192.168.0.0')!, prefix: 16 },
];

export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && inner.network >= outer.network && broadcast(inner) <= broadcast(outer);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network <= broadcast(b) && b.network <= broadcast(a);
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; problem: string };

/** Parses "a.b.c.d/p" strictly: host bits must be zero. */
export function parseCidr(text: unknown): CidrResult {
  if (typeof text !== 'string') return { ok: false, problem: 'must be a string like 10.0.0.0/24' };
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return { ok: false, problem: `"${text.slice(0, 50)}" is not an IPv4 CIDR like 10.0.0.0/24` };
  const address = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (address === undefined) return { ok: false, problem: `"${m[1].slice(0, 50)}" is not an IPv4 address` };
  if (prefix > 32) return { ok: false, problem: `prefix /${prefix} is not between 0 and 32` };
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const network = (address & mask) >>> 0;
  if (network !== address) {
    return { ok: false, problem: `host bits are set; the network is ${formatIpv4(network)}/${prefix}` };
  }
  return { ok: true, cidr: { network, prefix } };
}

/** A VPC's CIDR: IPv4, /16 to /28, inside a private range. */
export function validateVpcCidr(text: unknown): CidrResult {
  const parsed = parseCidr(text);
  if (!parsed.ok) return parsed;
  const { cidr } = parsed;
  if (cidr.prefix < 16 || cidr.prefix > 28) {
    return { ok: false, problem: `prefix /${cidr.prefix} is out of range: a VPC is /16 to /28` };
  }
  if (!PRIVATE_RANGES.some((r) => contains(r, cidr))) {
    return { ok: false, problem: 'must lie in a private range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16' };
  }
  return parsed;
}

/** Addresses a VPC hands to nodes: all but network, gateway (first) and broadcast. */
export function vpcHostRange(c: Cidr): { gateway: number; first: number; last: number } {
  return { gateway: c.network + 1, first: c.network + 2, last: broadcast(c) - 1 };
}
