import { isIP } from 'node:net';
import { OvsdbError, OvsdbErrorCode } from './ovsdb-error.js';

export type OvsdbRemote = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

const HOSTNAME_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parses a remote in the notation of the OVS tools (`ovn-nbctl --db=...`): `unix:<path>` or
 * `tcp:<host>:<port>`, an IPv6 host in brackets. The port is required: OVN's Northbound (6641)
 * and Southbound (6642) and Open vSwitch (6640) differ, so a default would hide mistakes. `ssl:`
 * is refused rather than silently spoken as plain TCP.
 */
export function parseOvsdbRemote(remote: string): OvsdbRemote {
  const invalid = (why: string): OvsdbError =>
    new OvsdbError(
      OvsdbErrorCode.InvalidRemote,
      `invalid OVSDB remote ${JSON.stringify(remote)}: ${why} (expected unix:<path> or tcp:<host>:<port>)`,
    );
  const colon = remote.indexOf(':');
  const scheme = colon < 0 ? '' : remote.slice(0, colon);
  const rest = remote.slice(colon + 1);
  switch (scheme) {
    case 'unix':
      if (rest === '') throw invalid('the socket path is empty');
      if (rest.includes('\0')) throw invalid('the socket path contains a NUL byte');
      return { kind: 'unix', path: rest };
    case 'tcp':
      return parseTcp(rest, invalid);
    case 'ssl':
      throw invalid('ssl: is not supported');
    default:
      throw invalid(colon < 0 ? 'no scheme' : `unknown scheme ${JSON.stringify(scheme)}`);
  }
}

function parseTcp(rest: string, invalid: (why: string) => OvsdbError): OvsdbRemote {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(rest);
  if (!match) throw invalid('expected <host>:<port>, an IPv6 address in brackets');
  const host = match[1] ?? match[2];
  if (match[1] !== undefined && isIP(host) !== 6) throw invalid(`${host} is not an IPv6 address`);
  if (match[2] !== undefined && isIP(host) === 0 && !HOSTNAME_PATTERN.test(host)) {
    throw invalid(`${host} is neither an IP address nor a host name`);
  }
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw invalid(`port ${match[3]} is out of range`);
  return { kind: 'tcp', host, port };
}

export function formatOvsdbRemote(remote: OvsdbRemote): string {
  if (remote.kind === 'unix') return `unix:${remote.path}`;
  return isIP(remote.host) === 6 ? `tcp:[${remote.host}]:${remote.port}` : `tcp:${remote.host}:${remote.port}`;
}
