// The archiver's configuration, parsed from an environment object. Pure: main.ts passes
// process.env, tests pass a plain object. Every bad variable is reported at once, and no message
// ever repeats a URL (it may carry a password).
import { parseRedisTarget, type RedisTarget } from '../lua/client.js';
import { DEFAULT_PARTITIONS } from '../lua/keys.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type ArchiverConfig = {
  databaseUrl: string;
  /** REDIS_URL; '' in cluster mode */
  redisUrl: string;
  /** one instance (REDIS_URL) or a cluster (REDIS_CLUSTER_NODES) */
  redis: RedisTarget;
  /** HTTP port for /healthz, /readyz, /metrics; 0 = any free port (the log line says which). */
  port: number;
  partitions: number;
  logLevel: LogLevel;
  batchSize: number;
  batchMs: number;
  /** PostgreSQL connections the partition loops share (each batch holds one for its transaction) */
  pgConnections: number;
  /**
   * This process's consumer name in the `archiver` group; null = `archiver@<host name>`. Stable
   * across restarts, so a restarted process takes over its own pending entries at once (identity.ts).
   */
  consumer: string | null;
  /** TTL of the lease that says which live process holds the consumer name (renewed every third). */
  leaseMs: number;
  /** XAUTOCLAIM min-idle: an entry pending this long with any consumer is taken over. */
  claimIdleMs: number;
  /** How often the janitor claims stale entries, trims the streams and drops idle consumers. */
  janitorMs: number;
  /** Trim the partition streams (MINID, only below what is archived). */
  trim: boolean;
  /** REDIS_WAIT_REPLICAS: archive only entries this many replicas hold (WAIT); 0 = off */
  waitReplicas: number;
  /** REDIS_WAIT_TIMEOUT_MS: a WAIT that times out leaves the batch to be read again */
  waitTimeoutMs: number;
};

export type Env = Readonly<Record<string, string | undefined>>;

export type ConfigResult = { ok: true; config: ArchiverConfig } | { ok: false; errors: string[] };

export function loadConfig(env: Env): ConfigResult {
  const errors: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };

  const url = (name: string, protocols: readonly string[]): string => {
    const v = read(name);
    if (v === undefined) {
      errors.push(`${name} is required`);
      return '';
    }
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      errors.push(`${name} is not a valid URL`);
      return '';
    }
    if (!protocols.includes(parsed.protocol)) {
      errors.push(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return '';
    }
    return v;
  };

  const int = (name: string, def: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return def;
    if (!/^-?\d+$/.test(v)) {
      errors.push(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
      return def;
    }
    const n = Number(v);
    if (n < min || n > max) {
      errors.push(`${name} must be between ${min} and ${max}, got ${n}`);
      return def;
    }
    return n;
  };

  const logLevel = (): LogLevel => {
    const v = read('LOG_LEVEL');
    if (v === undefined) return 'info';
    const found = LOG_LEVELS.find((l) => l === v.toLowerCase());
    if (!found) errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
    return found ?? 'info';
  };

  const bool = (name: string, def: boolean): boolean => {
    const v = read(name)?.toLowerCase();
    if (v === undefined) return def;
    if (['1', 'true', 'on', 'yes'].includes(v)) return true;
    if (['0', 'false', 'off', 'no'].includes(v)) return false;
    errors.push(`${name} must be on or off, got ${JSON.stringify(v)}`);
    return def;
  };

  const consumer = (): string | null => {
    const v = read('ARCHIVER_CONSUMER');
    if (v === undefined) return null;
    if (!/^[A-Za-z0-9_.:@-]{1,100}$/.test(v)) {
      errors.push('ARCHIVER_CONSUMER must be 1 to 100 characters of A-Z a-z 0-9 _ . : @ -');
      return null;
    }
    return v;
  };

  // REDIS_CLUSTER_NODES (a cluster) instead of REDIS_URL (one instance): lua/client.ts decides
  const clusterNodes = read('REDIS_CLUSTER_NODES');
  const clusterParsed = clusterNodes === undefined ? null : parseRedisTarget(read('REDIS_URL'), clusterNodes, read('REDIS_CLUSTER_PASSWORD'));
  if (clusterParsed !== null && 'errors' in clusterParsed) errors.push(...clusterParsed.errors);
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = clusterNodes === undefined ? url('REDIS_URL', ['redis:', 'rediss:']) : '';
  const redis: RedisTarget = clusterParsed !== null && 'target' in clusterParsed ? clusterParsed.target : { kind: 'single', url: redisUrl };

  const config: ArchiverConfig = {
    databaseUrl,
    redisUrl,
    redis,
    port: int('ARCHIVER_PORT', 8081, 0, 65535),
    partitions: int('PARTITIONS', DEFAULT_PARTITIONS, 1, 1024),
    logLevel: logLevel(),
    batchSize: int('BATCH_SIZE', 500, 1, 100_000),
    batchMs: int('BATCH_MS', 200, 1, 60_000),
    pgConnections: int('PG_CONNECTIONS', 4, 1, 256),
    consumer: consumer(),
    leaseMs: int('ARCHIVER_LEASE_MS', 2_000, 100, 60_000),
    claimIdleMs: int('ARCHIVER_CLAIM_IDLE_MS', 60_000, 10, 86_400_000),
    janitorMs: int('ARCHIVER_JANITOR_MS', 5_000, 10, 3_600_000),
    trim: bool('ARCHIVER_TRIM', true),
    waitReplicas: int('REDIS_WAIT_REPLICAS', 0, 0, 16),
    waitTimeoutMs: int('REDIS_WAIT_TIMEOUT_MS', 1_000, 1, 60_000),
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/** The URL without its password (and query string), safe to log. */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
