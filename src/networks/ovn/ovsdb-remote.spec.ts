import { describe, expect, it } from '@jest/globals';
import { OvsdbError } from './ovsdb-error.js';
import { formatOvsdbRemote, parseOvsdbRemote } from './ovsdb-remote.js';

describe('parseOvsdbRemote', () => {
  it.each([
    ['unix:/run/ovn/ovnnb_db.sock', { kind: 'unix', path: '/run/ovn/ovnnb_db.sock' }],
    ['unix:relative/nb.sock', { kind: 'unix', path: 'relative/nb.sock' }],
    ['unix:/with:colon', { kind: 'unix', path: '/with:colon' }],
    ['tcp:127.0.0.1:6641', { kind: 'tcp', host: '127.0.0.1', port: 6641 }],
    ['tcp:ovn-central.internal:6641', { kind: 'tcp', host: 'ovn-central.internal', port: 6641 }],
    ['tcp:[::1]:6642', { kind: 'tcp', host: '::1', port: 6642 }],
    ['tcp:[fd00::1]:1', { kind: 'tcp', host: 'fd00::1', port: 1 }],
  ])('accepts %s', (remote, parsed) => {
    expect(parseOvsdbRemote(remote)).toEqual(parsed);
    expect(formatOvsdbRemote(parseOvsdbRemote(remote))).toBe(remote);
  });

  it.each([
    ['', /no scheme/],
    ['/run/ovn/nb.sock', /no scheme/],
    ['unix:', /socket path is empty/],
    ['unix:/a\0b', /NUL byte/],
    ['punix:/x', /unknown scheme "punix"/],
    ['ssl:10.0.0.1:6641', /ssl: is not supported/],
    ['tcp:10.0.0.1', /expected <host>:<port>/],
    ['tcp::6641', /expected <host>:<port>/],
    ['tcp:10.0.0.1:', /expected <host>:<port>/],
    ['tcp:10.0.0.1:0', /port 0 is out of range/],
    ['tcp:10.0.0.1:65536', /port 65536 is out of range/],
    ['tcp:10.0.0.1:123456', /expected <host>:<port>/],
    ['tcp:10.0.0.1:66x', /expected <host>:<port>/],
    ['tcp:::1:6641', /expected <host>:<port>/],
    ['tcp:[10.0.0.1]:6641', /not an IPv6 address/],
    ['tcp:bad_host!:6641', /neither an IP address nor a host name/],
  ])('refuses %j', (remote, problem) => {
    let caught: unknown;
    try {
      parseOvsdbRemote(remote);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OvsdbError);
    expect(caught).toMatchObject({ code: 'INVALID_REMOTE' });
    expect((caught as Error).message).toMatch(problem);
    expect((caught as Error).message).toMatch(/expected unix:<path> or tcp:<host>:<port>/);
  });
});
