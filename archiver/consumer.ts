// The stream consumer: one loop per partition stream, each on its own blocking Redis connection
// (XREADGROUP BLOCK parks a connection). Per loop:
//   1. re-read this consumer's own pending entries (id 0, then after the last one) until none;
//   2. XREADGROUP … > COUNT batchSize BLOCK batchMs; write the batch in ONE transaction with the
//      partition checkpoint (sink.ts); XACK only after COMMIT. A crash in between replays the
//      batch, which the idempotent inserts absorb;
//   3. every janitorMs: XAUTOCLAIM entries idle > claimIdleMs from stalled consumers (a restart
//      under the same, stable name re-reads its own in step 1 at once: identity.ts) (and report,
//      as lost, the ids Redis says were deleted while pending), trim the stream with MINID below
//      what every group has acknowledged and PostgreSQL has committed, drop long-idle consumers.
// Step 2's write-and-acknowledge is batches.ts, step 3 janitor.ts.
// PostgreSQL down: the batch is retried with exponential backoff (capped at 5 s), nothing is
// acknowledged or read meanwhile, and readiness says not ready. Several archiver processes may
// share the partitions: the group spreads entries between them.
import { setTimeout as sleep } from 'node:timers/promises';
import { duplicateClient, type RedisClient as Redis } from '../lua/client.js';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { keysFor } from '../lua/keys.js';
import { backoffMs, createBatches } from './batches.js';
import { createJanitor } from './janitor.js';
import type { ArchiverMetrics, PartitionLag } from './metrics.js';
import { dropConsumerIfIdle, ensureGroup, lagMs, readGroup } from './streams.js';

export type ConsumerConfig = {
  partitions: number;
  batchSize: number;
  batchMs: number;
  claimIdleMs: number;
  janitorMs: number;
  trim: boolean;
  /** this process's consumer name in the group (unique per process unless deliberately stable) */
  consumer: string;
  /** idle consumers with nothing pending are removed from the group after this long */
  forgetConsumerMs?: number;
  /** REDIS_WAIT_REPLICAS: entries are archived only once this many replicas hold them */
  waitReplicas?: number;
  waitTimeoutMs?: number;
};

export type ConsumerDeps = {
  redis: Redis;
  sql: Sql;
  log: Logger;
  metrics: ArchiverMetrics;
  config: ConsumerConfig;
  /** told false while a batch is being retried, true once batches commit again */
  setArchiving?: (ok: boolean) => void;
};

const FORGET_CONSUMER_MS = 60 * 60 * 1000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export type Consumer = {
  start(): void;
  /** Stops reading, lets an in-flight commit finish (and be acknowledged), closes the readers. */
  stop(): Promise<void>;
  /** One janitor pass over a partition (claim, trim, forget idle consumers); for tests and ops. */
  janitor(partition: number): Promise<void>;
  lag(now?: number): Promise<PartitionLag>;
  readonly name: string;
};

export function createConsumer(deps: ConsumerDeps): Consumer {
  const { redis, sql, metrics, config } = deps;
  const log = deps.log.child({ consumer: config.consumer });
  const abort = new AbortController();
  const { signal } = abort;
  const readers = new Set<Redis>();
  const loops: Promise<void>[] = [];
  const pause = (ms: number) => sleep(ms, undefined, { signal }).catch(() => undefined);
  const batches = createBatches({
    redis, sql, log, metrics, signal, waitReplicas: config.waitReplicas ?? 0, waitTimeoutMs: config.waitTimeoutMs ?? 1_000,
    ...(deps.setArchiving === undefined ? {} : { setArchiving: deps.setArchiving }),
  });
  const { handle, awaitReplicas } = batches;
  const janitor = createJanitor({
    redis, sql, log, metrics, signal, batches, consumer: config.consumer, claimIdleMs: config.claimIdleMs, trim: config.trim,
    forgetMs: config.forgetConsumerMs ?? FORGET_CONSUMER_MS,
  });

  const runPartition = async (p: number): Promise<void> => {
    const stream = keysFor(p).events;
    const reader = duplicateClient(redis, { name: `parley-archiver-p${p}`, maxRetriesPerRequest: null });
    readers.add(reader);
    reader.on('error', (err: Error) => log.debug({ err, partition: p }, 'reader connection error'));
    let groupReady = false;
    let cursor: string | null = '0'; // reading our own pending entries first
    let nextJanitor = Date.now() + Math.floor(Math.random() * config.janitorMs);
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!groupReady) {
          await ensureGroup(redis, stream);
          groupReady = true;
        }
        if (Date.now() >= nextJanitor) {
          try {
            await janitor(p);
          } finally {
            nextJanitor = Date.now() + config.janitorMs;
          }
        }
        if (cursor !== null) {
          const mine = await readGroup(reader, stream, config.consumer, cursor, config.batchSize);
          if (mine.length === 0) cursor = null;
          else {
            await awaitReplicas(reader, stream);
            cursor = mine[mine.length - 1]?.id ?? null;
            await handle(p, stream, mine, 'pending');
          }
        } else {
          const block = Math.max(1, Math.min(config.batchMs, nextJanitor - Date.now()));
          const entries = await readGroup(reader, stream, config.consumer, '>', config.batchSize, block);
          if (entries.length > 0) {
            await awaitReplicas(reader, stream);
            await handle(p, stream, entries, 'new');
          }
        }
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        metrics.retries.inc({ stage: 'read' });
        if (/NOGROUP/.test(message(err))) groupReady = false;
        cursor = '0'; // an XACK may not have landed: look at our pending entries again
        if (failures === 1 || failures % 20 === 0) log.warn({ err, partition: p, failures }, 'stream read failed; retrying');
        await pause(backoffMs(failures));
      }
    }
  };

  return {
    name: config.consumer,
    start() {
      for (let p = 0; p < config.partitions; p++) {
        loops.push(runPartition(p).catch((err: unknown) => log.fatal({ err, partition: p }, 'partition loop crashed')));
      }
      log.info({ partitions: config.partitions, batchSize: config.batchSize, batchMs: config.batchMs }, 'consuming partition streams');
    },
    async stop() {
      abort.abort();
      // a blocked XREADGROUP holds its loop for up to batchMs: let it come back, then close
      await Promise.race([Promise.all(loops), sleep(config.batchMs + 2000)]);
      for (const r of readers) r.disconnect();
      await Promise.all(loops);
      for (let p = 0; p < config.partitions && loops.length > 0; p++) {
        await dropConsumerIfIdle(redis, keysFor(p).events, config.consumer).catch(() => false);
      }
    },
    janitor,
    async lag(now = Date.now()) {
      const out: PartitionLag = new Map();
      const all = await Promise.all(
        Array.from({ length: config.partitions }, (_, p) => lagMs(redis, keysFor(p).events, now)),
      );
      all.forEach((v, p) => out.set(p, v));
      return out;
    },
  };
}
