import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

const base = { KAAS_SECRET_KEY: 'a'.repeat(64) };

describe('loadConfig', () => {
  it('has defaults for a local run', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toMatch(/^postgres:\/\/.*127\.0\.0\.1/);
    expect(c.secretKeys).toEqual({ source: 'environment', current: Buffer.from('a'.repeat(64), 'hex'), retired: [] });
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
    ['KAAS_SECRET_KEYS_RETIRED', `${'c'.repeat(64)},abcd`, 'KAAS_SECRET_KEYS_RETIRED: key 2 must be 32 bytes'],
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
    expect(c.secretKeys).toEqual({ source: 'file', current: Buffer.from('b'.repeat(64), 'hex'), retired: [] });
  });

  it('reads retired secret keys from KAAS_SECRET_KEYS_RETIRED, hex or base64, comma-separated', () => {
    const c = loadConfig({
      ...base,
      KAAS_SECRET_KEYS_RETIRED: ` ${'c'.repeat(64)} , ${Buffer.alloc(32, 7).toString('base64')},`,
    });
    expect(c.secretKeys.retired).toEqual([Buffer.from('c'.repeat(64), 'hex'), Buffer.alloc(32, 7)]);
  });

  it('reads a key file of several keys: the first current, the others retired', () => {
    const text = `# current first\n${'d'.repeat(64)}\n\n${'e'.repeat(64)}\n${Buffer.alloc(32, 1).toString('base64')}\n`;
    const c = loadConfig({ KAAS_DATA_DIR: '/d' }, (p) => (p === '/d/secret.key' ? text : undefined));
    expect(c.secretKeys).toEqual({
      source: 'file',
      current: Buffer.from('d'.repeat(64), 'hex'),
      retired: [Buffer.from('e'.repeat(64), 'hex'), Buffer.alloc(32, 1)],
    });
  });

  it.each([
    [`${'d'.repeat(64)}\nnot a key\n`, 'KAAS_SECRET_KEY_FILE: line 2 must be 32 bytes'],
    ['# nothing\n\n', 'KAAS_SECRET_KEY_FILE: holds no key'],
  ])('refuses a bad key file %j naming the variable', (text, message) => {
    const read = (p: string) => (p === '/d/secret.key' ? text : undefined);
    expect(() => loadConfig({ KAAS_DATA_DIR: '/d' }, read)).toThrow(ConfigError);
    expect(() => loadConfig({ KAAS_DATA_DIR: '/d' }, read)).toThrow(message);
  });

  it('refuses retired keys in the environment when the keys come from the key file', () => {
    expect(() =>
      loadConfig({ KAAS_DATA_DIR: '/d', KAAS_SECRET_KEYS_RETIRED: 'e'.repeat(64) }, (p) =>
        p === '/d/secret.key' ? 'd'.repeat(64) : undefined,
      ),
    ).toThrow(/^KAAS_SECRET_KEYS_RETIRED: is only read with KAAS_SECRET_KEY/);
  });

  it('reads the hosts a worker is pinned to', () => {
    expect(loadConfig(base).workerHosts).toBeNull();
    expect(loadConfig({ ...base, KAAS_WORKER_HOSTS: ' kvm-01, kvm-02,kvm-01 ' }).workerHosts).toEqual([
      'kvm-01',
      'kvm-02',
    ]);
  });

  it("reads the worker's endpoint: 9464 on 127.0.0.1 by default, 0 or off for none", () => {
    expect(loadConfig(base).workerHttp).toEqual({ port: 9464, host: '127.0.0.1', explicit: false });
    expect(loadConfig({ ...base, KAAS_WORKER_PORT: '9470', KAAS_WORKER_HOST: '0.0.0.0' }).workerHttp).toEqual({
      port: 9470,
      host: '0.0.0.0',
      explicit: true,
    });
    expect(loadConfig({ ...base, KAAS_WORKER_PORT: '0' }).workerHttp).toBeNull();
    expect(loadConfig({ ...base, KAAS_WORKER_PORT: 'OFF' }).workerHttp).toBeNull();
  });

  it.each(['nine', '-1', '70000', '94.64'])('refuses KAAS_WORKER_PORT=%s naming the variable', (value) => {
    expect(() => loadConfig({ ...base, KAAS_WORKER_PORT: value })).toThrow(
      `KAAS_WORKER_PORT: must be a port (1-65535), or 0 or "off" for none, got "${value}"`,
    );
  });

  it('refuses to start without any secret key', () => {
    expect(() => loadConfig({ KAAS_DATA_DIR: '/nowhere' }, () => undefined)).toThrow(/KAAS_SECRET_KEY: is not set/);
  });
});
