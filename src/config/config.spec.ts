import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

const base = { KAAS_SECRET_KEY: 'a'.repeat(64) };

describe('loadConfig', () => {
  it('has defaults for a local run', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toMatch(/^postgres:\/\/.*127\.0\.0\.1/);
    expect(c.secretKey).toHaveLength(32);
    expect(c.adminToken).toBeUndefined();
    expect(c.rateLimits).toEqual({
      perKey: { rate: 100, burst: 200, per: 'second' },
      perAddress: { rate: 2000, burst: 4000, per: 'second' },
      authFailures: { rate: 600, burst: 600, per: 'minute' },
    });
    expect(c.retention).toEqual({ eventsKeep: 1000, eventsMaxAgeDays: 30, auditDays: 90 });
  });

  it.each([
    ['KAAS_PORT', 'abc', 'KAAS_PORT: must be a whole number'],
    ['KAAS_PORT', '70000', 'KAAS_PORT: must be between 0 and 65535'],
    ['DATABASE_URL', 'nope', 'DATABASE_URL: is not a valid URL'],
    ['DATABASE_URL', 'mysql://x/y', 'DATABASE_URL: must use postgres: or postgresql:'],
    ['KAAS_LOG_LEVEL', 'loud', 'KAAS_LOG_LEVEL: must be one of'],
    ['KAAS_ADMIN_TOKEN', 'short', 'KAAS_ADMIN_TOKEN: must be at least 16 characters'],
    ['KAAS_SECRET_KEY', 'abcd', 'KAAS_SECRET_KEY: must be 32 bytes'],
    ['KAAS_BODY_LIMIT', 'lots', 'KAAS_BODY_LIMIT: must look like 64kb'],
    ['KAAS_WORKER_HOSTS', 'kvm-01,KVM_02', 'KAAS_WORKER_HOSTS: must be host names separated by commas, got "KVM_02"'],
    ['KAAS_RATE_LIMIT_PER_KEY', '-5', 'KAAS_RATE_LIMIT_PER_KEY: must be between 0 and'],
    ['KAAS_RATE_LIMIT_AUTH_FAILURES_BURST', '0', 'KAAS_RATE_LIMIT_AUTH_FAILURES_BURST: must be between 1 and'],
    ['KAAS_EVENTS_KEEP', '-1', 'KAAS_EVENTS_KEEP: must be between 0 and'],
    ['KAAS_EVENTS_MAX_AGE_DAYS', '1.5', 'KAAS_EVENTS_MAX_AGE_DAYS: must be a whole number'],
    ['KAAS_AUDIT_RETENTION_DAYS', '100000', 'KAAS_AUDIT_RETENTION_DAYS: must be between 0 and 36500'],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(message);
  });

  it('reads the admin token and secret key from their files when the variables are unset', () => {
    const files: Record<string, string> = {
      '/d/admin-token': 'file-token-0123456789\n',
      '/d/secret.key': 'b'.repeat(64),
    };
    const c = loadConfig({ KAAS_DATA_DIR: '/d' }, (p) => files[p]);
    expect(c.adminToken).toBe('file-token-0123456789');
    expect(c.secretKey.equals(Buffer.from('b'.repeat(64), 'hex'))).toBe(true);
  });

  it('reads the hosts a worker is pinned to', () => {
    expect(loadConfig(base).workerHosts).toBeNull();
    expect(loadConfig({ ...base, KAAS_WORKER_HOSTS: ' kvm-01, kvm-02,kvm-01 ' }).workerHosts).toEqual([
      'kvm-01',
      'kvm-02',
    ]);
  });

  it('refuses to start without any secret key', () => {
    expect(() => loadConfig({ KAAS_DATA_DIR: '/nowhere' }, () => undefined)).toThrow(/KAAS_SECRET_KEY: is not set/);
  });
});
