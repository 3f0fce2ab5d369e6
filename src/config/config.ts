import { formatCidr, parseCidr, parseIpv4 } from '../common/cidr.js';

/** Validated process configuration. Every field comes from one environment variable. */
export interface OvnConfig {
  /** The Northbound database (KAAS_OVN_NB): `unix:<path>`, `tcp:<host>:<port>`, or several, comma-separated (a RAFT cluster). */
  northbound: string;
  /** The Southbound database (KAAS_OVN_SB), read to tell which hosts' chassis are up; null: not read. */
  southbound: string | null;
  /** Source NAT of every VPC to its router's provider address (KAAS_VPC_EGRESS, default on). */
  egress: boolean;
  /** Guests' MTU (KAAS_VPC_MTU): 1442 leaves room for Geneve on a 1500-byte underlay. */
  mtu: number;
  /** DNS servers handed to guests by DHCP (KAAS_VPC_DNS, comma-separated); none by default. */
  dns: string[];
  /** The provider network's name in each host's `ovn-bridge-mappings` (KAAS_OVN_PHYSNET). */
  physnet: string;
  /** The integration bridge guests' NICs plug into on every host (KAAS_OVN_BRIDGE). */
  integrationBridge: string;
}

export interface AppConfig {
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string;
  /** Set when KAAS_ADMIN_TOKEN is given; otherwise the admin token lives in adminTokenFile. */
  adminToken: string | undefined;
  adminTokenFile: string;
  /** 32-byte keys for AES-256-GCM encryption of secrets at rest, as the process started. */
  secretKeys: SecretKeys;
  secretKeyFile: string;
  logLevel: string;
  bodyLimit: string;
  queuePrefix: string;
  dataDir: string;
  /** Seconds between health sweeps. */
  healthIntervalSeconds: number;
  jobAttempts: number;
  jobBackoffMs: number;
  workerConcurrency: number;
  /**
   * Names of the hosts this worker process may hold (KAAS_WORKER_HOSTS, comma-separated); null
   * for any host no other live worker is pinned to.
   */
  workerHosts: string[] | null;
  /**
   * The worker's own HTTP port for /metrics, /healthz and /readyz (KAAS_WORKER_PORT, KAAS_WORKER_HOST);
   * null when KAAS_WORKER_PORT is 0 or `off`. Not read by the API process.
   */
  workerHttp: WorkerHttpConfig | null;
  /**
   * Ranges no VPC may overlap (KAAS_RESERVED_CIDRS, comma-separated IPv4 CIDRs): the hosts' own
   * networks, say. Floating-IP ranges are refused as VPC ranges without being listed.
   */
  reservedCidrs: string[];
  /** Tenant networks (OVN). */
  ovn: OvnConfig;
  /** Seconds a released VPC address rests before it is handed out again (stale ARP caches). */
  ipQuarantineSeconds: number;
  /** How often the process returns the C library's free memory to the system (0: never). */
  memoryTrimMs: number;
  /** Simulated guests: boot and install durations. */
  simBootMs: number;
  simInstallMs: number;
  /** Delay before a reconcile that waits on something looks again. */
  requeueMs: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
  /** Root of the platform's files on each host (pools, console logs, bundles). */
  hostDataDir: string;
  /** Where the control-plane bundles live (bundles/ in the repo). */
  bundlesDir: string;
  /** Seconds an orphan VM (platform metadata, no node) is left alone before it is destroyed. */
  orphanGraceSeconds: number;
  /**
   * Seconds a node being removed keeps trying to leave the control plane (etcd member removal,
   * Kubernetes drain) before its VM is destroyed anyway, with a warning event.
   */
  leaveTimeoutSeconds: number;
  /** Backups: the largest snapshot taken (it is held in the worker's memory), and the time a take may use. */
  backup: { maxBytes: number; timeoutSeconds: number };
  resyncSeconds: number;
  /** BullMQ job lock; a job whose worker died is retried after it lapses. */
  jobLockMs: number;
  /** How long a worker's hold on a host lasts without renewal. */
  hostLeaseMs: number;
  /**
   * Seconds after which a request still marked in progress under its Idempotency-Key is taken to
   * have died with its process or its database connection, so that a retry may run it again.
   */
  idempotencyLockSeconds: number;
  /** Request limits of the API, shared by every API process through Redis (see docs/security.md). */
  rateLimits: RateLimits;
  /** How much of what grows with use is kept; scheduled jobs prune the rest. */
  retention: Retention;
}

export interface WorkerHttpConfig {
  port: number;
  host: string;
  /**
   * KAAS_WORKER_PORT was set: a port already taken stops the worker. The default port, taken by
   * another worker on the same machine, costs only this worker's endpoint (logged as an error).
   */
  explicit: boolean;
}

/** The default port of a worker's endpoint, in the range Prometheus exporters use. */
export const DEFAULT_WORKER_PORT = 9464;

/** 0 in any field keeps everything that field would otherwise prune. */
export interface Retention {
  /** Newest events kept per cluster (KAAS_EVENTS_KEEP). */
  eventsKeep: number;
  /** Days after which an event goes, however few its cluster has (KAAS_EVENTS_MAX_AGE_DAYS). */
  eventsMaxAgeDays: number;
  /** Days the audit log keeps a record (KAAS_AUDIT_RETENTION_DAYS). */
  auditDays: number;
}

/** A token bucket: `rate` tokens come back per `per`, at most `burst` are saved up; rate 0 is no limit. */
export interface RateLimit {
  rate: number;
  burst: number;
  per: 'second' | 'minute';
}

export interface RateLimits {
  /** Requests per API key or admin token. */
  perKey: RateLimit;
  /** Requests per source address (an IPv6 address counts per /64). */
  perAddress: RateLimit;
  /** Failed authentications per source address; beyond them the address is refused for a while. */
  authFailures: RateLimit;
}

/**
 * The key ring: `current` seals every new secret; `retired` keys only open what they sealed
 * until `kaasctl admin rotate-secret-key` has sealed it again under the current one.
 */
export interface SecretKeys {
  /**
   * `environment`: KAAS_SECRET_KEY and KAAS_SECRET_KEYS_RETIRED, fixed for the process's life.
   * `file`: the key file (first line current, the others retired), re-read when it changes.
   */
  source: 'environment' | 'file';
  current: Buffer;
  retired: Buffer[];
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function ratio(env: Env, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || n < 0.1 || n > 100)
    throw new ConfigError(name, `must be a ratio between 0.1 and 100, got "${raw}"`);
  return n;
}

function rateLimit(env: Env, name: string, rate: number, burst: number, per: RateLimit['per']): RateLimit {
  return { rate: int(env, name, rate, 0, 1_000_000), burst: int(env, `${name}_BURST`, burst, 1, 10_000_000), per };
}

function url(env: Env, name: string, def: string, protocols: string[]): string {
  const raw = env[name] ?? def;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `is not a valid URL: "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return raw;
}

/** A comma-separated list of host names (DNS labels); unset or empty for none. */
function hostNames(env: Env, name: string): string[] | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  const names = raw.split(',').map((n) => n.trim());
  const bad = names.find((n) => n.length > 63 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n));
  if (bad !== undefined) throw new ConfigError(name, `must be host names separated by commas, got "${bad}"`);
  return [...new Set(names)];
}

function cidrList(env: Env, name: string): string[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  return raw.split(',').map((item) => {
    const parsed = parseCidr(item.trim());
    if (!parsed.ok) throw new ConfigError(name, `must be IPv4 CIDRs separated by commas: ${parsed.problem}`);
    return formatCidr(parsed.cidr);
  });
}

/** An OVSDB remote (or a comma-separated list of them); `none` turns an optional one off. */
function ovsdbRemote(env: Env, name: string, def: string): string | null {
  const raw = (env[name] ?? def).trim();
  if (raw === 'none') return null;
  for (const one of raw.split(',')) {
    if (!/^(unix:\/.+|tcp:[^:]+:\d{1,5})$/.test(one.trim()))
      throw new ConfigError(name, `must be unix:<path> or tcp:<host>:<port> (several: comma-separated), got "${one}"`);
  }
  return raw;
}

/** KAAS_WORKER_PORT: a port, or 0 / `off` for none; unset for the default. */
function workerHttp(env: Env): WorkerHttpConfig | null {
  const raw = env.KAAS_WORKER_PORT?.trim();
  const host = env.KAAS_WORKER_HOST?.trim() || '127.0.0.1';
  if (raw === undefined || raw === '') return { port: DEFAULT_WORKER_PORT, host, explicit: false };
  if (raw.toLowerCase() === 'off') return null;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535)
    throw new ConfigError('KAAS_WORKER_PORT', `must be a port (1-65535), or 0 or "off" for none, got "${raw}"`);
  return port === 0 ? null : { port, host, explicit: true };
}

function flag(env: Env, name: string, def: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return def;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`);
}

function addressList(env: Env, name: string): string[] {
  const raw = env[name]?.trim();
  if (!raw) return [];
  return raw.split(',').map((item) => {
    const address = item.trim();
    if (parseIpv4(address) === undefined)
      throw new ConfigError(name, `must be IPv4 addresses separated by commas, got "${address}"`);
    return address;
  });
}

function name(env: Env, variable: string, def: string): string {
  const raw = env[variable]?.trim() || def;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw))
    throw new ConfigError(variable, `must be a name of letters, digits, "_", "." or "-", got "${raw}"`);
  return raw;
}

function oneOf(env: Env, name: string, def: string, allowed: string[]): string {
  const raw = env[name] ?? def;
  if (!allowed.includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw;
}

/**
 * A default service URL with the password that `scripts/services.sh` made for the data folder
 * (`<data>/secrets/*.password`), when there is one.
 */
export function withStoredPassword(
  defaultUrl: string,
  passwordFile: string,
  readFile?: (path: string) => string | undefined,
): string {
  const password = readFile?.(passwordFile)?.trim();
  if (!password) return defaultUrl;
  const u = new URL(defaultUrl);
  u.password = password;
  return u.toString();
}

const KEY_SHAPE = 'must be 32 bytes, as 64 hex characters or base64';

/** Parses a 32-byte key given as 64 hex characters or base64. */
export function parseSecretKey(raw: string, name = 'KAAS_SECRET_KEY'): Buffer {
  const trimmed = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new ConfigError(name, KEY_SHAPE);
  return key;
}

/** A key file: one key per line, the current one first, then retired ones; blank and `#` lines skipped. */
export function parseSecretKeyFile(
  text: string,
  name = 'KAAS_SECRET_KEY_FILE',
): Pick<SecretKeys, 'current' | 'retired'> {
  const keys: Buffer[] = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    try {
      keys.push(parseSecretKey(trimmed, name));
    } catch {
      throw new ConfigError(name, `line ${i + 1} ${KEY_SHAPE}`);
    }
  });
  if (keys.length === 0) throw new ConfigError(name, 'holds no key');
  return { current: keys[0], retired: keys.slice(1) };
}

function secretKeys(env: Env, keyFile: string, readFile?: (path: string) => string | undefined): SecretKeys {
  if (env.KAAS_SECRET_KEY) {
    const retired = (env.KAAS_SECRET_KEYS_RETIRED ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)
      .map((item, i) => {
        try {
          return parseSecretKey(item, 'KAAS_SECRET_KEYS_RETIRED');
        } catch {
          throw new ConfigError('KAAS_SECRET_KEYS_RETIRED', `key ${i + 1} ${KEY_SHAPE} (comma-separated)`);
        }
      });
    return { source: 'environment', current: parseSecretKey(env.KAAS_SECRET_KEY), retired };
  }
  if (env.KAAS_SECRET_KEYS_RETIRED?.trim()) {
    throw new ConfigError(
      'KAAS_SECRET_KEYS_RETIRED',
      `is only read with KAAS_SECRET_KEY; retired keys go in the key file (${keyFile}) after the current one`,
    );
  }
  const stored = readFile?.(keyFile);
  if (!stored) {
    throw new ConfigError(
      'KAAS_SECRET_KEY',
      `is not set and no key file exists at ${keyFile} (run "make run" once, or set it)`,
    );
  }
  return { source: 'file', ...parseSecretKeyFile(stored) };
}

export function loadConfig(env: Env = process.env, readFile?: (path: string) => string | undefined): AppConfig {
  const dataDir = env.KAAS_DATA_DIR ?? `${process.cwd()}/.data`;
  const adminTokenFile = env.KAAS_ADMIN_TOKEN_FILE ?? `${dataDir}/admin-token`;
  const adminToken = env.KAAS_ADMIN_TOKEN ?? readFile?.(adminTokenFile)?.trim();
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('KAAS_ADMIN_TOKEN', 'must be at least 16 characters long');
  }
  const secretKeyFile = env.KAAS_SECRET_KEY_FILE ?? `${dataDir}/secret.key`;
  const keys = secretKeys(env, secretKeyFile, readFile);
  const bodyLimit = env.KAAS_BODY_LIMIT ?? '64kb';
  if (!/^\d+(b|kb|mb)$/i.test(bodyLimit))
    throw new ConfigError('KAAS_BODY_LIMIT', `must look like 64kb, got "${bodyLimit}"`);
  return {
    port: int(env, 'KAAS_PORT', 8080, 0, 65535),
    host: env.KAAS_HOST ?? '127.0.0.1',
    databaseUrl: url(
      env,
      'DATABASE_URL',
      withStoredPassword('postgres://kaas@127.0.0.1:55432/kaas', `${dataDir}/secrets/postgres.password`, readFile),
      ['postgres:', 'postgresql:'],
    ),
    redisUrl: url(
      env,
      'REDIS_URL',
      withStoredPassword('redis://127.0.0.1:56379', `${dataDir}/secrets/redis.password`, readFile),
      ['redis:', 'rediss:'],
    ),
    adminToken,
    adminTokenFile,
    secretKeys: keys,
    secretKeyFile,
    logLevel: oneOf(env, 'KAAS_LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    bodyLimit,
    queuePrefix: env.KAAS_QUEUE_PREFIX ?? 'kaas',
    dataDir,
    healthIntervalSeconds: int(env, 'KAAS_HEALTH_INTERVAL_SECONDS', 10, 1, 3600),
    jobAttempts: int(env, 'KAAS_JOB_ATTEMPTS', 5, 1, 100),
    jobBackoffMs: int(env, 'KAAS_JOB_BACKOFF_MS', 1000, 1, 600000),
    workerConcurrency: int(env, 'KAAS_WORKER_CONCURRENCY', 16, 1, 1000),
    workerHosts: hostNames(env, 'KAAS_WORKER_HOSTS'),
    workerHttp: workerHttp(env),
    reservedCidrs: cidrList(env, 'KAAS_RESERVED_CIDRS'),
    ovn: {
      northbound: ovsdbRemote(env, 'KAAS_OVN_NB', `unix:${dataDir}/ovn/ovnnb_db.sock`)!,
      southbound: ovsdbRemote(env, 'KAAS_OVN_SB', `unix:${dataDir}/ovn/ovnsb_db.sock`),
      egress: flag(env, 'KAAS_VPC_EGRESS', true),
      mtu: int(env, 'KAAS_VPC_MTU', 1442, 576, 9000),
      dns: addressList(env, 'KAAS_VPC_DNS'),
      physnet: name(env, 'KAAS_OVN_PHYSNET', 'physnet'),
      integrationBridge: name(env, 'KAAS_OVN_BRIDGE', 'br-int'),
    },
    ipQuarantineSeconds: int(env, 'KAAS_IP_QUARANTINE_SECONDS', 300, 0, 86400),
    memoryTrimMs: int(env, 'KAAS_MEMORY_TRIM_MS', 10000, 0, 600000),
    simBootMs: int(env, 'KAAS_SIM_BOOT_MS', 2000, 0, 600000),
    simInstallMs: int(env, 'KAAS_SIM_INSTALL_MS', 3000, 0, 600000),
    requeueMs: int(env, 'KAAS_REQUEUE_MS', 1000, 10, 600000),
    cpuOvercommit: ratio(env, 'KAAS_CPU_OVERCOMMIT', 4),
    memoryOvercommit: ratio(env, 'KAAS_MEMORY_OVERCOMMIT', 1),
    hostDataDir: env.KAAS_HOST_DATA_DIR ?? '/var/lib/kaas',
    bundlesDir: env.KAAS_BUNDLES_DIR ?? `${process.cwd()}/bundles`,
    orphanGraceSeconds: int(env, 'KAAS_ORPHAN_GRACE_SECONDS', 60, 0, 86400),
    leaveTimeoutSeconds: int(env, 'KAAS_LEAVE_TIMEOUT_SECONDS', 600, 0, 86400),
    backup: {
      maxBytes: int(env, 'KAAS_BACKUP_MAX_BYTES', 512 * 1024 * 1024, 1024 * 1024, 2 * 1024 * 1024 * 1024),
      timeoutSeconds: int(env, 'KAAS_BACKUP_TIMEOUT_SECONDS', 600, 10, 86400),
    },
    resyncSeconds: int(env, 'KAAS_RESYNC_SECONDS', 15, 1, 3600),
    jobLockMs: int(env, 'KAAS_JOB_LOCK_MS', 30000, 1000, 600000),
    hostLeaseMs: int(env, 'KAAS_HOST_LEASE_MS', 15000, 1000, 600000),
    idempotencyLockSeconds: int(env, 'KAAS_IDEMPOTENCY_LOCK_SECONDS', 60, 1, 86400),
    rateLimits: {
      perKey: rateLimit(env, 'KAAS_RATE_LIMIT_PER_KEY', 100, 200, 'second'),
      perAddress: rateLimit(env, 'KAAS_RATE_LIMIT_PER_ADDRESS', 2000, 4000, 'second'),
      authFailures: rateLimit(env, 'KAAS_RATE_LIMIT_AUTH_FAILURES', 600, 600, 'minute'),
    },
    retention: {
      eventsKeep: int(env, 'KAAS_EVENTS_KEEP', 1000, 0, 10_000_000),
      eventsMaxAgeDays: int(env, 'KAAS_EVENTS_MAX_AGE_DAYS', 30, 0, 36_500),
      auditDays: int(env, 'KAAS_AUDIT_RETENTION_DAYS', 90, 0, 36_500),
    },
  };
}
