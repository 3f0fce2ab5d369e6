import { describe, expect, it } from '@jest/globals';
import { formatIpv4, overlaps, parseCidr, parseIpv4, validateVpcCidr, vpcHostRange } from './cidr.js';

function cidr(text: string) {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.problem);
  return r.cidr;
}

describe('IPv4 and CIDR parsing', () => {
  it('round-trips addresses', () => {
    for (const a of ['0.0.0.0', '10.1.2.3', '255.255.255.255', '192.168.0.1'])
      expect(formatIpv4(parseIpv4(a)!)).toBe(a);
  });

  it.each(['10.0.0', '10.0.0.256', '1.2.3.4.5', '01.2.3.4', 'a.b.c.d', ' 10.0.0.1', '10.0.0.1 '])('rejects %j', (a) => {
    expect(parseIpv4(a)).toBeUndefined();
  });

  it.each([
    ['10.0.0.5/24', /host bits are set; the network is 10.0.0.0\/24/],
    ['10.0.0.0/33', /not between 0 and 32/],
    ['10.0.0.0', /not an IPv4 CIDR/],
    ['fd00::/64', /not an IPv4/],
    ['10.0.0.0/8/8', /not an IPv4 CIDR/],
  ])('rejects %s', (text, problem) => {
    const r = parseCidr(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });
});

describe('VPC CIDRs', () => {
  it.each(['10.0.0.0/16', '10.255.255.240/28', '172.16.0.0/16', '172.31.255.0/24', '192.168.0.0/16'])(
    'accepts %s',
    (c) => {
      expect(validateVpcCidr(c).ok).toBe(true);
    },
  );

  it.each([
    ['10.0.0.0/15', /\/15 is out of range/],
    ['10.0.0.0/29', /\/29 is out of range/],
    ['8.8.8.0/24', /private range/],
    ['172.32.0.0/16', /private range/],
    ['100.64.0.0/16', /private range/],
    [42, /must be a string/],
  ])('rejects %s', (c, problem) => {
    const r = validateVpcCidr(c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });

  it('reserves network, gateway and broadcast at the edges of /28 and /16', () => {
    const small = vpcHostRange(cidr('10.0.0.0/28'));
    expect([small.gateway, small.first, small.last].map(formatIpv4)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.14']);
    expect(small.last - small.first + 1).toBe(13);
    const big = vpcHostRange(cidr('10.1.0.0/16'));
    expect([big.gateway, big.first, big.last].map(formatIpv4)).toEqual(['10.1.0.1', '10.1.0.2', '10.1.255.254']);
    expect(big.last - big.first + 1).toBe(65533);
  });

  it('detects overlap', () => {
    expect(overlaps(cidr('10.0.0.0/16'), cidr('10.0.5.0/24'))).toBe(true);
    expect(overlaps(cidr('10.0.5.0/24'), cidr('10.0.0.0/16'))).toBe(true);
    expect(overlaps(cidr('10.0.0.0/24'), cidr('10.0.1.0/24'))).toBe(false);
    expect(overlaps(cidr('10.0.0.0/28'), cidr('10.0.0.15/32'))).toBe(true);
    expect(overlaps(cidr('10.0.0.0/28'), cidr('10.0.0.16/28'))).toBe(false);
  });
});
