// The webhook dispatcher's configuration, parsed from an environment object (pure: main.ts passes
// process.env, tests a plain object). Every bad variable is reported at once.
import type { RedisTarget } from '../../lua/client.js';
import { loadConfig as loadArchiverConfig, LOG_LEVELS, type Env, type LogLevel } from '../config.js';

export type DispatcherConfig = {
  databaseUrl: string;
  /** REDIS_URL; '' in cluster mode */
  redisUrl: string;
  /** one instance (REDIS_URL) or a cluster (REDIS_CLUSTER_NODES), as the archiver reads them */
  redis: RedisTarget;
  /** /healthz, /readyz, /metrics; 0 = any free port */
  port: number;
  partitions: number;
  logLevel: LogLevel;
  /** consumer name in the `webhooks` group: stable by default, so a restart takes its own pending entries back first */
  consumer: string;
  /** stream entries taken per read */
  batchSize: number;
  batchMs: number;
  claimIdleMs: number;
  janitorMs: number;
  retryBaseMs: number;
  retryMaxAgeMs: number;
  /** the longest a failing delivery waits between two attempts */
  retryCapMs: number;
  timeoutMs: number;
  /** requests in flight per webhook endpoint */
  concurrency: number;
  /** requests in flight in all */
  maxInFlight: number;
  /** a claimed delivery is another dispatcher's to retry after this (must exceed timeoutMs) */
  leaseMs: number;
  pollMs: number;
  /** response bodies are read up to this many bytes, then the connection is dropped */
  responseCapBytes: number;
  allowPrivate: boolean;
  /** delivered deliveries are kept this long (then deleted); dead letters are kept until replayed or the webhook goes */
  keepDeliveredMs: number;
  /** typing webhooks: subscribe to the partition fan-out channels (best effort; SSUBSCRIBE per partition on a Redis Cluster) */
  typing: boolean;
};

export type ConfigResult = { ok: true; config: DispatcherConfig } | { ok: false; errors: string[] };

export function loadConfig(env: Env): ConfigResult {
  // DATABASE_URL, REDIS_URL or REDIS_CLUSTER_NODES (+ REDIS_CLUSTER_PASSWORD), PARTITIONS, LOG_LEVEL,
  // BATCH_SIZE, BATCH_MS: parsed exactly as the archiver does
  const base = loadArchiverConfig({
    DATABASE_URL: env['DATABASE_URL'], REDIS_URL: env['REDIS_URL'], REDIS_CLUSTER_NODES: env['REDIS_CLUSTER_NODES'],
    REDIS_CLUSTER_PASSWORD: env['REDIS_CLUSTER_PASSWORD'], PARTITIONS: env['PARTITIONS'], LOG_LEVEL: env['LOG_LEVEL'],
    BATCH_SIZE: env['WEBHOOKS_BATCH_SIZE'], BATCH_MS: env['WEBHOOKS_BATCH_MS'],
  });
  const errors: string[] = base.ok ? [] : base.errors.map((e) => e.replace(/^BATCH_/, 'WEBHOOKS_BATCH_'));
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      errors.push(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
      return def;
    }
    return Number(v);
  };
  const flag = (name: string, def = false): boolean => {
    const v = read(name)?.toLowerCase();
    if (v === undefined) return def;
    if (['0', 'false', 'off', 'no'].includes(v)) return false;
    if (['1', 'true', 'on', 'yes'].includes(v)) return true;
    errors.push(`${name} must be 1 or 0, got ${JSON.stringify(v)}`);
    return def;
  };
  const consumer = read('WEBHOOKS_CONSUMER') ?? 'dispatcher';
  if (!/^[A-Za-z0-9_.:@-]{1,100}$/.test(consumer)) errors.push('WEBHOOKS_CONSUMER must be 1 to 100 characters of A-Z a-z 0-9 _ . : @ -');
  const timeoutMs = int('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000);
  const leaseMs = int('WEBHOOK_LEASE_MS', Math.max(60_000, timeoutMs * 3), 200, 3_600_000);
  if (leaseMs <= timeoutMs) errors.push('WEBHOOK_LEASE_MS must be longer than WEBHOOK_TIMEOUT_MS');
  const cluster = base.ok && base.config.redis.kind === 'cluster';
  const retryBaseMs = int('WEBHOOK_RETRY_BASE_MS', 10_000, 1, 3_600_000);
  const config: DispatcherConfig = {
    databaseUrl: base.ok ? base.config.databaseUrl : '',
    redisUrl: base.ok ? base.config.redisUrl : '',
    redis: base.ok ? base.config.redis : { kind: 'single', url: '' },
    port: int('WEBHOOKS_PORT', 8082, 0, 65535),
    partitions: base.ok ? base.config.partitions : 16,
    logLevel: base.ok ? base.config.logLevel : 'info',
    consumer,
    batchSize: base.ok ? base.config.batchSize : 500,
    batchMs: base.ok ? base.config.batchMs : 200,
    claimIdleMs: int('WEBHOOKS_CLAIM_IDLE_MS', 60_000, 10, 86_400_000),
    janitorMs: int('WEBHOOKS_JANITOR_MS', 5_000, 10, 3_600_000),
    retryBaseMs,
    retryMaxAgeMs: int('WEBHOOK_RETRY_MAX_AGE_MS', 86_400_000, 1, 30 * 86_400_000),
    retryCapMs: int('WEBHOOK_RETRY_CAP_MS', Math.max(retryBaseMs, 3_600_000), 1, 86_400_000),
    timeoutMs,
    concurrency: int('WEBHOOK_CONCURRENCY', 8, 1, 1000),
    maxInFlight: int('WEBHOOK_MAX_IN_FLIGHT', 256, 1, 100_000),
    leaseMs,
    pollMs: int('WEBHOOK_POLL_MS', 250, 5, 60_000),
    responseCapBytes: int('WEBHOOK_RESPONSE_CAP_BYTES', 16_384, 0, 1_048_576),
    allowPrivate: flag('WEBHOOKS_ALLOW_PRIVATE'),
    keepDeliveredMs: int('WEBHOOK_KEEP_DELIVERED_MS', 7 * 86_400_000, 0, 365 * 86_400_000),
    typing: flag('WEBHOOKS_TYPING', true),
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

export { LOG_LEVELS };
