import { describe, expect, it } from '@jest/globals';
import { CERTIFICATE_RENEW_DAYS, isOutdated } from './cluster.reconciler.js';

describe('isOutdated', () => {
  const cluster = { version: 'v2', certificatesGeneration: 3 };
  const now = Date.parse('2026-12-07T00:00:00Z');
  const node = (over: Partial<Parameters<typeof isOutdated>[0]> = {}) => ({
    version: 'v2',
    certificatesGeneration: 3,
    certificateExpiresAt: new Date(now + 400 * 86400000),
    ...over,
  });

  it('is false for a node at the version, the certificates generation, and far from expiry', () => {
    expect(isOutdated(node(), cluster, now)).toBe(false);
    // A node whose expiry is not known (a simulated guest reads no seed) is not renewed for it.
    expect(isOutdated(node({ certificateExpiresAt: null }), cluster, now)).toBe(false);
  });

  it('is true for another version, certificates from before a rotation, or an expiry within 30 days', () => {
    expect(isOutdated(node({ version: 'v1' }), cluster, now)).toBe(true);
    expect(isOutdated(node({ certificatesGeneration: 2 }), cluster, now)).toBe(true);
    const soon = new Date(now + (CERTIFICATE_RENEW_DAYS - 1) * 86400000);
    expect(isOutdated(node({ certificateExpiresAt: soon }), cluster, now)).toBe(true);
    const later = new Date(now + (CERTIFICATE_RENEW_DAYS + 1) * 86400000);
    expect(isOutdated(node({ certificateExpiresAt: later }), cluster, now)).toBe(false);
  });
});
