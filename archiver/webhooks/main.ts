// Composition root of the webhook dispatcher (`node dist/archiver/webhooks/main.js`, started by
// `npm start`): migrates (the delivery queue is its table), then takes the partition streams in as
// consumer group `webhooks` (intake.ts) and delivers from PostgreSQL (sender.ts); serves /healthz,
// /readyz and /metrics like the archiver. The only file of the dispatcher that reads process.env.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, describeTarget } from '../../lua/client.js';
import postgres from 'postgres';
import { safeUrl } from '../config.js';
import { createHttpServer } from '../http.js';
import { createLogger } from '../log.js';
import { runMigrations } from '../migrate.js';
import { isTransientPgError } from '../pg-errors.js';
import { closeClients, handleProcessSignals } from '../process.js';
import { createReadiness } from '../readiness.js';
import { loadConfig } from './config.js';
import { createDefinitions } from './definitions.js';
import { createIntake } from './intake.js';
import { createDispatcherMetrics } from './metrics.js';
import { endpointStats } from './queue.js';
import { createSender } from './send.js';
import { createSenderLoop } from './sender.js';
import { createTypingIntake } from './typing.js';

const SHUTDOWN_GRACE_MS = 15_000;

const loaded = loadConfig(process.env);
if (!loaded.ok) {
  process.stderr.write(`webhooks: invalid configuration:\n${loaded.errors.map((e) => `  - ${e}\n`).join('')}`);
  process.exit(2);
}
const { config } = loaded;
const log = createLogger(config.logLevel, 'webhooks');
const sql = postgres(config.databaseUrl, {
  max: 6,
  connect_timeout: 5,
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
  onnotice: (notice) => log.debug({ notice: notice.message }, 'postgres notice'),
});
const redis = connectRedis(config.redis, { name: 'parley-webhooks' });
redis.on('error', (err: Error) => log.debug({ err }, 'redis connection error'));

const metrics = createDispatcherMetrics();
metrics.setStatsProbe(() => endpointStats(sql));
const readiness = createReadiness({ redis, sql });
const definitions = createDefinitions({ redis, partitions: config.partitions });
const http = createSender({
  timeoutMs: config.timeoutMs, responseCapBytes: config.responseCapBytes, allowPrivate: config.allowPrivate, maxSocketsPerWebhook: config.concurrency,
});
const sender = createSenderLoop({
  sql, log, metrics, definitions, http,
  config: {
    concurrency: config.concurrency, maxInFlight: config.maxInFlight, leaseMs: config.leaseMs, pollMs: config.pollMs,
    retryBaseMs: config.retryBaseMs, retryCapMs: config.retryCapMs, retryMaxAgeMs: config.retryMaxAgeMs,
    keepDeliveredMs: config.keepDeliveredMs, owner: `${config.consumer}@${hostname()}:${process.pid}`,
  },
});
const intake = createIntake({
  redis, sql, log, metrics, definitions,
  config: {
    partitions: config.partitions, batchSize: config.batchSize, batchMs: config.batchMs, claimIdleMs: config.claimIdleMs,
    janitorMs: config.janitorMs, consumer: config.consumer,
  },
  onQueued: () => sender.poke(),
  setHealthy: (ok) => readiness.setArchiving(ok),
});
const typing = !config.typing ? null : createTypingIntake({
  redis, sql, log, metrics, definitions, partitions: config.partitions, onQueued: () => sender.poke(),
  clusterPassword: config.redis.kind === 'cluster' ? config.redis.password : null,
});
const server = createHttpServer({ readiness, registry: metrics.registry, log });
const stop = new AbortController();
let running = false;

async function migrate(): Promise<void> {
  for (let attempt = 1; !stop.signal.aborted; attempt++) {
    try {
      await runMigrations(sql, log);
      readiness.markMigrated();
      intake.start();
      sender.start();
      typing?.start().catch((err: unknown) => log.warn({ err }, 'typing subscription failed; typing webhooks are off'));
      running = true;
      log.info({ consumer: config.consumer, allowPrivate: config.allowPrivate, typing: config.typing }, 'delivering webhooks');
      return;
    } catch (err) {
      if (stop.signal.aborted) return;
      if (!isTransientPgError(err)) {
        log.fatal({ err }, 'migrations failed');
        return shutdown('migration failure', 1);
      }
      const retryInMs = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      log.warn({ err, attempt, retryInMs }, 'postgres unreachable; retrying migrations');
      await sleep(retryInMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  }
}

let shuttingDown = false;
async function shutdown(reason: string, code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  stop.abort();
  metrics.up.set(0);
  log.info({ reason }, 'shutting down');
  setTimeout(() => process.exit(code === 0 ? 1 : code), SHUTDOWN_GRACE_MS).unref();
  await server.close().catch(() => undefined);
  if (running) await Promise.all([intake.stop(), sender.stop()]).catch((err: unknown) => log.warn({ err }, 'stop failed'));
  http.close();
  typing?.stop();
  await closeClients(redis, sql, log);
  log.info({ code }, 'stopped');
  process.exit(code);
}

handleProcessSignals(log, shutdown);

try {
  const port = await server.listen(config.port);
  metrics.up.set(1);
  log.info({ port, postgres: safeUrl(config.databaseUrl), redis: config.redis.kind === 'single' ? safeUrl(config.redisUrl) : describeTarget(config.redis), partitions: config.partitions }, `webhook dispatcher listening on port ${port}`);
  await migrate();
} catch (err) {
  log.fatal({ err }, 'webhook dispatcher failed to start');
  await shutdown('startup failure', 1);
}
