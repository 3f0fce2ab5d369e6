import { describe, expect, it } from '@jest/globals';
import { HOST_URI, isSimulatedHostUri } from './hosts.dto.js';

describe('host URIs', () => {
  it.each([
    ['qemu:///system', false],
    ['qemu+ssh://root@kvm-01/system', false],
    ['qemu+tls://kvm-02:16514/system?no_verify=1', false],
    ['test:///default', true],
    ['test:///tmp/kaas-libvirt-x/host.xml', true],
    ['test+unix:///default?socket=/tmp/kaas-sim-host-x/run/libvirt/libvirt-sock', true],
    ['test+tcp://sim-01:16509/default', true],
  ])('accepts %s (simulated: %s)', (uri, simulated) => {
    expect(HOST_URI.test(uri)).toBe(true);
    expect(isSimulatedHostUri(uri)).toBe(simulated);
  });

  it.each([
    'qemu:///',
    'test://',
    'test+unix:///default?socket=/x y',
    'test+carrier-pigeon:///default',
    'lxc:///system',
    'qemu:///system;rm -rf /',
  ])('refuses %s', (uri) => {
    expect(HOST_URI.test(uri)).toBe(false);
  });
});
