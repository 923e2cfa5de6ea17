// Composition root of the archiver process: migrates, then consumes the partition event streams
// into PostgreSQL (consumer.ts) and serves /healthz, /readyz and /metrics. The only file of the
// archiver that reads process.env.
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, describeTarget, targetModeError } from '../lua/client.js';
import { checkLayout } from '../lua/layout.js';
import postgres from 'postgres';
import { loadConfig, safeUrl } from './config.js';
import { createScripts } from '../lua/scripts.js';
import { createConsumer, type Consumer } from './consumer.js';
import { acquireConsumerName, stableConsumerName, type ConsumerIdentity } from './identity.js';
import { createHttpServer } from './http.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { ensurePartitionsAhead, runMigrations } from './migrate.js';
import { isTransientPgError } from './pg-errors.js';
import { closeClients, handleProcessSignals } from './process.js';
import { createReadiness } from './readiness.js';

const PARTITION_MONTHS_AHEAD = 3;
const PARTITION_CHECK_MS = 6 * 60 * 60 * 1000;
const SHUTDOWN_GRACE_MS = 10_000;

const loaded = loadConfig(process.env);
if (!loaded.ok) {
  process.stderr.write(`archiver: invalid configuration:\n${loaded.errors.map((e) => `  - ${e}\n`).join('')}`);
  process.exit(2);
}
const { config } = loaded;
const log = createLogger(config.logLevel);

const sql = postgres(config.databaseUrl, {
  max: config.pgConnections,
  connect_timeout: 5,
  // postgres.js waits up to 20 s between reconnects by default; the consumer has its own backoff
  // (capped at 5 s), so reconnect within a second of PostgreSQL coming back.
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
  onnotice: (notice) => log.debug({ notice: notice.message }, 'postgres notice'),
});
const redis = connectRedis(config.redis, { name: 'parley-archiver' });
let redisDown = false;
redis.on('error', (err: Error) => {
  if (!redisDown) log.warn({ err }, 'redis connection error; reconnecting');
  redisDown = true;
});
redis.on('ready', () => {
  if (redisDown) log.info('redis connection restored');
  redisDown = false;
});

const scripts = createScripts(redis);
const metrics = createMetrics();
const readiness = createReadiness({ redis, sql });
/** The consumer, once this process holds its consumer name (identity.ts); null before. */
let consumer: Consumer | null = null;
let identity: ConsumerIdentity | null = null;
function createConsumerNamed(name: string): Consumer {
  return createConsumer({
    redis,
    sql,
    log,
    metrics,
    config: {
      partitions: config.partitions,
      batchSize: config.batchSize,
      batchMs: config.batchMs,
      claimIdleMs: config.claimIdleMs,
      janitorMs: config.janitorMs,
      trim: config.trim,
      waitReplicas: config.waitReplicas,
      waitTimeoutMs: config.waitTimeoutMs,
      consumer: name,
    },
    setArchiving: (ok) => readiness.setArchiving(ok),
  });
}
metrics.setProbes({
  lag: () => consumer?.lag() ?? Promise.resolve(new Map()),
  redisMemory: async () => {
    const info = await redis.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { used: field('used_memory'), max: field('maxmemory') };
  },
});
let consuming = false;
const http = createHttpServer({ readiness, registry: metrics.registry, log });
const stop = new AbortController();
let partitionTimer: NodeJS.Timeout | undefined;

async function ensurePartitions(): Promise<void> {
  try {
    const created = await ensurePartitionsAhead(sql, Date.now(), PARTITION_MONTHS_AHEAD);
    if (created.length > 0) log.info({ created }, 'message partitions created');
  } catch (err) {
    log.warn({ err }, 'could not ensure message partitions; will retry');
  }
}

/** Applies migrations, retrying while PostgreSQL is unreachable; exits on a real failure. */
async function migrate(): Promise<boolean> {
  for (let attempt = 1; !stop.signal.aborted; attempt++) {
    try {
      const { applied } = await runMigrations(sql, log);
      log.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema up to date');
      readiness.markMigrated();
      await ensurePartitions();
      partitionTimer = setInterval(() => void ensurePartitions(), PARTITION_CHECK_MS).unref();
      return true;
    } catch (err) {
      if (stop.signal.aborted) return false;
      if (!isTransientPgError(err)) {
        log.fatal({ err }, 'migrations failed');
        await shutdown('migration failure', 1);
        return false;
      }
      const retryInMs = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      log.warn({ err, attempt, retryInMs }, 'postgres unreachable; retrying migrations');
      await sleep(retryInMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  }
  return false;
}

/** Takes the consumer name (identity.ts), then consumes the partition streams under it. */
async function startConsuming(): Promise<void> {
  try {
    identity = await acquireConsumerName({
      scripts, log, preferred: stableConsumerName(config.consumer), leaseMs: config.leaseMs, signal: stop.signal,
      onLost: () => void shutdown('consumer name lost', 1),
    });
  } catch (err) {
    if (stop.signal.aborted) return;
    log.fatal({ err }, 'could not take a consumer name');
    return shutdown('consumer name failure', 1);
  }
  if (stop.signal.aborted) {
    await identity.release();
    return;
  }
  log.info({ consumer: identity.name, stable: identity.stable }, 'consumer name held');
  consumer = createConsumerNamed(identity.name);
  consumer.start();
  consuming = true;
}

/** The key layout guard (lua/layout.ts): waits for Redis; data of another layout stops the archiver. */
async function awaitLayout(): Promise<void> {
  for (let attempt = 1; !stop.signal.aborted; attempt++) {
    try {
      const wrongMode = await targetModeError(config.redis);
      if (wrongMode !== null) {
        log.fatal(wrongMode);
        process.stderr.write(`archiver: invalid configuration: ${wrongMode}\n`);
        return shutdown('wrong Redis mode', 2);
      }
      const check = await checkLayout(redis, config.partitions);
      if (check.ok) return;
      log.fatal({ partitions: config.partitions }, check.error);
      process.stderr.write(`archiver: refusing to start: ${check.error}\n`);
      return shutdown('key layout mismatch', 2);
    } catch (err) {
      if (attempt === 1 || attempt % 30 === 0) log.warn({ err }, 'waiting for Redis to check the key layout');
      await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  }
}

let shuttingDown = false;
async function shutdown(reason: string, code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  stop.abort();
  clearInterval(partitionTimer);
  metrics.up.set(0);
  log.info({ reason }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(code === 0 ? 1 : code);
  }, SHUTDOWN_GRACE_MS).unref();
  await http.close().catch((err: unknown) => log.warn({ err }, 'http close failed'));
  if (consuming) await consumer?.stop().catch((err: unknown) => log.warn({ err }, 'consumer stop failed'));
  await identity?.release();
  await closeClients(redis, sql, log);
  log.info({ code }, 'stopped');
  process.exit(code);
}

handleProcessSignals(log, shutdown);

try {
  const port = await http.listen(config.port);
  metrics.up.set(1);
  log.info(
    {
      port, postgres: safeUrl(config.databaseUrl), redis: config.redis.kind === 'single' ? safeUrl(config.redisUrl) : describeTarget(config.redis), partitions: config.partitions,
      consumer: stableConsumerName(config.consumer),
    },
    `archiver listening on port ${port}`,
  );
  await awaitLayout();
  if (await migrate()) await startConsuming();
} catch (err) {
  log.fatal({ err }, 'archiver failed to start');
  await shutdown('startup failure', 1);
}
