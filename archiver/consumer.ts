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
// PostgreSQL down: the batch is retried with exponential backoff (capped at 5 s), nothing is
// acknowledged or read meanwhile, and readiness says not ready. Several archiver processes may
// share the partitions: the group spreads entries between them.
import { setTimeout as sleep } from 'node:timers/promises';
import { duplicateClient, type RedisClient as Redis } from '../lua/client.js';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { keysFor } from '../lua/keys.js';
import type { ArchiverMetrics, PartitionLag } from './metrics.js';
import { isTransientPgError } from './pg-errors.js';
import { writeBatch, type BatchResult, type RawEntry } from './sink.js';
import { compareStreamIds } from './stream-id.js';
import {
  ack, autoClaim, consumers, dropConsumerIfIdle, ensureGroup, GROUP, groups, lagMs, readGroup, replicated, safeTrimId, trimBelow, type Entry,
} from './streams.js';

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

export const RETRY_BASE_MS = 100;
export const RETRY_CAP_MS = 5_000;
const CLAIM_COUNT = 100;
const CLAIM_ROUNDS = 20;
const FORGET_CONSUMER_MS = 60 * 60 * 1000;

export function backoffMs(attempt: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 16));
}

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
  const failing = new Set<number>();
  const forgetMs = config.forgetConsumerMs ?? FORGET_CONSUMER_MS;

  const pause = (ms: number) => sleep(ms, undefined, { signal }).catch(() => undefined);

  const setFailing = (p: number, bad: boolean) => {
    const before = failing.size;
    if (bad) failing.add(p);
    else failing.delete(p);
    if ((before === 0) !== (failing.size === 0)) deps.setArchiving?.(failing.size === 0);
  };

  const reportLost = (p: number, stream: string, ids: readonly string[], how: string) => {
    if (ids.length === 0) return;
    metrics.lost.inc(ids.length);
    log.error(
      { partition: p, stream, ids: ids.slice(0, 100), count: ids.length, how },
      'ALARM: stream entries were deleted before they were archived; they are lost to the archive',
    );
  };

  /** Writes until committed; null when stopped first (nothing acknowledged then). */
  const writeWithRetry = async (p: number, entries: RawEntry[]): Promise<BatchResult | null> => {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && signal.aborted) return null;
      const started = process.hrtime.bigint();
      try {
        const result = await writeBatch(sql, p, entries);
        metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        if (attempt > 1) log.info({ partition: p, attempts: attempt }, 'batch committed after retries');
        setFailing(p, false);
        return result;
      } catch (err) {
        metrics.retries.inc({ stage: 'write' });
        setFailing(p, true);
        const retryInMs = backoffMs(attempt);
        const transient = isTransientPgError(err);
        if (attempt === 1 || attempt % 20 === 0) {
          const fields = { err, partition: p, attempt, retryInMs, entries: entries.length };
          if (transient) log.warn(fields, 'postgres unavailable; retrying the batch, nothing acknowledged meanwhile');
          else log.error(fields, 'batch refused by postgres; retrying, nothing acknowledged meanwhile');
        }
        await pause(retryInMs);
      }
    }
  };

  /** XACK until Redis takes it (or we stop: the entries then stay pending and are replayed). */
  const ackWithRetry = async (p: number, stream: string, ids: string[]): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await ack(redis, stream, ids);
        return true;
      } catch (err) {
        metrics.retries.inc({ stage: 'ack' });
        if (attempt === 1) log.warn({ err, partition: p }, 'XACK failed; retrying (the batch is committed, a replay is harmless)');
        if (signal.aborted) return false;
        await pause(backoffMs(attempt));
      }
    }
  };

  /**
   * REDIS_WAIT_REPLICAS: what was read is archived only once enough replicas hold it, so a failover
   * to a replica never leaves PostgreSQL with an entry Redis lost (its sender was not acknowledged
   * and sends it again). Too few: the read fails and its entries are read again as pending.
   */
  const wanted = config.waitReplicas ?? 0;
  const awaitReplicas = async (reader: Redis, stream: string): Promise<void> => {
    if (wanted === 0) return;
    const acked = await replicated(reader, stream, wanted, config.waitTimeoutMs ?? 1_000);
    if (acked < wanted) throw new Error(`NOTREPLICATED ${stream}: ${acked} of ${wanted} replicas hold what was read`);
  };

  /** Archives some entries of a partition and acknowledges them. */
  const handle = async (p: number, stream: string, entries: Entry[], how: string): Promise<void> => {
    const gone = entries.filter((e) => e.fields === null).map((e) => e.id);
    if (gone.length > 0) {
      reportLost(p, stream, gone, how);
      await ackWithRetry(p, stream, gone);
    }
    const live = entries.filter((e): e is { id: string; fields: string[] } => e.fields !== null);
    if (live.length === 0) return;
    const result = await writeWithRetry(p, live);
    if (result === null) return;
    metrics.batchSize.observe(live.length);
    metrics.events.inc(live.length);
    for (const [table, n] of Object.entries(result.rows)) metrics.rows.inc({ table }, n);
    if (result.deadLetters.length > 0) {
      metrics.deadLetters.inc(result.deadLetters.length);
      log.error({ partition: p, deadLetters: result.deadLetters.slice(0, 20) }, 'entries stored in archiver_dead_letters');
    }
    log.debug({ partition: p, entries: live.length, lastId: result.lastId, rows: result.rows, how }, 'batch committed');
    await ackWithRetry(p, stream, live.map((e) => e.id));
  };

  const checkpointOf = async (p: number): Promise<string | null> => {
    const [row] = await sql<{ last_id: string }[]>`select last_id from archiver_checkpoints where partition = ${p}`;
    return row?.last_id ?? null;
  };

  /** per partition: the checkpoint a regression was last reported at (one alarm per event) */
  const regressedAt = new Map<number, string>();

  /**
   * The group hands out entries before they are committed, so its last-delivered id is never below
   * the PostgreSQL checkpoint, unless Redis lost writes it had acknowledged (a failover to a lagging
   * replica, an AOF that lost its tail): the group state went back in time with the stream. That is
   * reported loudly; nothing needs repairing here (inserts are idempotent on the uid, and entries
   * with ids below the checkpoint are archived and trimmed like any other).
   */
  const checkRegression = (p: number, stream: string, lastDelivered: string, checkpoint: string | null): void => {
    if (checkpoint === null || compareStreamIds(lastDelivered, checkpoint) >= 0 || regressedAt.get(p) === checkpoint) return;
    regressedAt.set(p, checkpoint);
    metrics.regressions.inc({ partition: String(p) });
    log.error(
      { partition: p, stream, lastDelivered, checkpoint },
      'ALARM: the partition stream is behind what PostgreSQL committed: Redis lost writes it had acknowledged (failover or lost AOF tail); messages from that window may be missing from Redis, PostgreSQL keeps what it archived',
    );
  };

  const janitor = async (p: number): Promise<void> => {
    const stream = keysFor(p).events;
    // 0. did Redis go back in time?
    let checkpoint: string | null = null;
    try {
      checkpoint = await checkpointOf(p);
    } catch {
      checkpoint = null; // PostgreSQL down: neither check nor trim
    }
    const group = (await groups(redis, stream)).find((g) => g.name === GROUP);
    if (group !== undefined) checkRegression(p, stream, group.lastDeliveredId, checkpoint);
    // 1. take over entries a stalled consumer holds
    let cursor = '0-0';
    for (let round = 0; round < CLAIM_ROUNDS && !signal.aborted; round++) {
      const claim = await autoClaim(redis, stream, config.consumer, config.claimIdleMs, cursor, CLAIM_COUNT);
      reportLost(p, stream, claim.deleted, 'XAUTOCLAIM');
      if (claim.claimed.length > 0) {
        metrics.claimed.inc(claim.claimed.length);
        log.info({ partition: p, count: claim.claimed.length }, 'claimed entries pending with a stalled consumer');
        await handle(p, stream, claim.claimed, 'claimed');
      }
      cursor = claim.next;
      if (cursor === '0-0') break;
    }
    // 2. trim what every group acknowledged and PostgreSQL committed
    if (config.trim && !signal.aborted) {
      const minId = await safeTrimId(redis, stream, checkpoint);
      if (minId !== null) {
        const n = await trimBelow(redis, stream, minId);
        if (n > 0) {
          metrics.trimmed.inc(n);
          log.debug({ partition: p, trimmed: n, minId }, 'stream trimmed');
        }
      }
    }
    // 3. forget consumers that died long ago with nothing pending
    for (const c of await consumers(redis, stream)) {
      if (c.name !== config.consumer && c.pending === 0 && c.idleMs > forgetMs) {
        if (await dropConsumerIfIdle(redis, stream, c.name)) log.info({ partition: p, dropped: c.name }, 'idle consumer removed');
      }
    }
  };

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
