// The engine's one config module: a pure parser of an env-like object. Every bad variable is
// reported at once; main.ts prints them and exits non-zero. Nothing else reads process.env.

import { parseRedisTarget, type RedisTarget } from '../lua/client.js'
import { DEFAULT_PARTITIONS } from '../lua/keys.js'

export type EngineConfig = {
  readonly host: string
  readonly port: number
  /** REDIS_URL; '' in cluster mode */
  readonly redisUrl: string
  /** one instance (REDIS_URL) or a cluster (REDIS_CLUSTER_NODES) */
  readonly redis: RedisTarget
  /** REDIS_WAIT_REPLICAS: a state change is acknowledged once this many replicas hold it (WAIT); 0 = off */
  readonly waitReplicas: number
  /** REDIS_WAIT_TIMEOUT_MS: how long WAIT may take before the op answers `unavailable` */
  readonly waitTimeoutMs: number
  /** optional: reports and history beyond the Redis hot tail */
  readonly databaseUrl: string | null
  readonly adminToken: string
  readonly partitions: number
  readonly logLevel: string
  readonly nodeId: string
  /** an application frame over this gets a `too_large` error reply */
  readonly maxFrameBytes: number
  /** the WebSocket payload limit: uWS closes the socket with 1009 above it */
  readonly maxPayloadBytes: number
  readonly maxContentChars: number
  /** idle timeout; uWS pings automatically well inside it */
  readonly heartbeatMs: number
  /** a connection whose unsent buffer passes this is closed as a slow consumer */
  readonly maxBackpressureBytes: number
  /** undecodable frames tolerated per connection before close 1008 */
  readonly garbageLimit: number
  /** WebSocket upgrades per IP per window, then 429 */
  readonly connRatePoints: number
  readonly connRateWindowSec: number
  /** per-connection operations per second (burst = 2x) before `rate_limited` */
  readonly opsPerSecond: number
  readonly messagesPerMinuteDefault: number
  /** presence: an agent with no heartbeat for this long is offline (≈3× heartbeat) */
  readonly presenceGraceMs: number
  readonly shutdownGraceMs: number
  /** messages kept per conversation log in Redis (MAXLEN ~); older pages come from PostgreSQL */
  readonly hotTail: number
  /** snooze wake-up scheduler interval */
  readonly schedulerMs: number
  /** at most one archived conversation.seen event per viewer and conversation per window */
  readonly seenThrottleMs: number
  /** presence and assignment-queue sweep interval */
  readonly sweepMs: number
  /** manual conversation.assign calls per agent per minute */
  readonly assignsPerMinute: number
  /** WORKERS > 1: a primary forks this many engine processes that share PORT (SO_REUSEPORT) */
  readonly workers: number
  /** a resolved conversation idle this long is evicted from Redis once archived (needs DATABASE_URL); 0 = never */
  readonly retentionMs: number
  /** message.update is allowed this long after a message was created (MESSAGE_EDIT_WINDOW_MS, 15 min) */
  readonly messageEditWindowMs: number
  /** webhooks: lift the SSRF address rules (tests, on-prem receivers) */
  readonly webhooksAllowPrivate: boolean
  /** webhooks: how long the previous secret still signs after a rotation */
  readonly webhookSecretOverlapMs: number
}

export type ConfigResult = { ok: true; config: EngineConfig } | { ok: false; errors: string[] }

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

type Env = Readonly<Record<string, string | undefined>>

export function loadConfig(env: Env): ConfigResult {
  const errors: string[] = []

  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return def
    if (!/^-?\d+$/.test(raw.trim())) {
      errors.push(`${name} must be an integer, got ${JSON.stringify(raw)}`)
      return def
    }
    const n = Number(raw)
    if (n < min || n > max) errors.push(`${name} must be between ${min} and ${max}, got ${n}`)
    return n
  }
  const str = (name: string, def: string | undefined): string => {
    const raw = env[name]
    if (raw === undefined || raw === '') {
      if (def === undefined) errors.push(`${name} is required`)
      return def ?? ''
    }
    return raw
  }

  const flag = (name: string): boolean => {
    const raw = env[name]?.trim().toLowerCase()
    if (raw === undefined || raw === '' || ['0', 'false', 'off', 'no'].includes(raw)) return false
    if (['1', 'true', 'on', 'yes'].includes(raw)) return true
    errors.push(`${name} must be 1 or 0, got ${JSON.stringify(env[name])}`)
    return false
  }


  const redisParsed = parseRedisTarget(env['REDIS_URL'], env['REDIS_CLUSTER_NODES'], env['REDIS_CLUSTER_PASSWORD'])
  if ('errors' in redisParsed) errors.push(...redisParsed.errors)
  const redis: RedisTarget = 'target' in redisParsed ? redisParsed.target : { kind: 'single', url: '' }
  const redisUrl = redis.kind === 'single' ? redis.url : ''
  const dbUrl = env['DATABASE_URL']
  if (dbUrl !== undefined && dbUrl !== '' && !/^postgres(ql)?:\/\//.test(dbUrl)) errors.push('DATABASE_URL must start with postgres:// or postgresql://')
  const adminToken = str('ADMIN_TOKEN', undefined)
  if (adminToken !== '' && adminToken.length < 16) errors.push('ADMIN_TOKEN must be at least 16 characters')
  const logLevel = str('LOG_LEVEL', 'info')
  if (!LOG_LEVELS.includes(logLevel)) errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)

  const maxFrameBytes = int('MAX_FRAME_BYTES', 655_360, 1024, 64 * 1024 * 1024)
  const maxPayloadBytes = int('MAX_PAYLOAD_BYTES', 1_048_576, 1024, 128 * 1024 * 1024)
  if (maxPayloadBytes < maxFrameBytes) errors.push('MAX_PAYLOAD_BYTES must be at least MAX_FRAME_BYTES')
  const heartbeatMs = int('HEARTBEAT_MS', 30_000, 8_000, 600_000)

  const config: EngineConfig = {
    host: str('HOST', '0.0.0.0'),
    port: int('PORT', 8080, 0, 65535),
    redisUrl,
    redis,
    waitReplicas: int('REDIS_WAIT_REPLICAS', 0, 0, 16),
    waitTimeoutMs: int('REDIS_WAIT_TIMEOUT_MS', 1000, 1, 60_000),
    databaseUrl: env['DATABASE_URL'] === undefined || env['DATABASE_URL'] === '' ? null : env['DATABASE_URL'],
    adminToken,
    partitions: int('PARTITIONS', DEFAULT_PARTITIONS, 1, 1024),
    logLevel,
    nodeId: str('NODE_ID', `n${process.pid}`),
    maxFrameBytes,
    maxPayloadBytes,
    maxContentChars: int('MAX_CONTENT_CHARS', 150_000, 1, 10_000_000),
    heartbeatMs,
    maxBackpressureBytes: int('MAX_BACKPRESSURE_BYTES', 1_048_576, 16 * 1024, 256 * 1024 * 1024),
    garbageLimit: int('GARBAGE_LIMIT', 5, 1, 1000),
    connRatePoints: int('CONN_RATE_POINTS', 60, 1, 1_000_000),
    connRateWindowSec: int('CONN_RATE_WINDOW_SEC', 10, 1, 86_400),
    opsPerSecond: int('OPS_PER_SECOND', 50, 1, 1_000_000),
    messagesPerMinuteDefault: int('MESSAGES_PER_MINUTE', 200, 1, 1_000_000),
    presenceGraceMs: int('PRESENCE_GRACE_MS', heartbeatMs * 3, 1_000, 3_600_000),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 5_000, 0, 120_000),
    hotTail: int('HOT_TAIL', 1000, 10, 1_000_000),
    sweepMs: int('SWEEP_MS', 1000, 50, 600_000),
    assignsPerMinute: int('ASSIGNS_PER_MINUTE', 60, 1, 1_000_000),
    schedulerMs: int('SCHEDULER_MS', 1000, 10, 3_600_000),
    seenThrottleMs: int('SEEN_THROTTLE_MS', 30_000, 1, 86_400_000),
    workers: int('WORKERS', 1, 1, 256),
    retentionMs: int('RETENTION_MS', 7 * 86_400_000, 0, 3650 * 86_400_000),
    messageEditWindowMs: int('MESSAGE_EDIT_WINDOW_MS', 15 * 60_000, 0, 3650 * 86_400_000),
    webhooksAllowPrivate: flag('WEBHOOKS_ALLOW_PRIVATE'),
    webhookSecretOverlapMs: int('WEBHOOK_SECRET_OVERLAP_MS', 86_400_000, 0, 30 * 86_400_000),
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config }
}
