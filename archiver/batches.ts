// A partition batch from read to acknowledged (the consumer's step 2): wait for the replicas when
// REDIS_WAIT_REPLICAS asks, report entries Redis deleted while pending, write the rest in one
// transaction until PostgreSQL takes it (exponential backoff; readiness says not archiving
// meanwhile), then XACK until Redis takes it. Nothing is acknowledged before its COMMIT.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient as Redis } from '../lua/client.js';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import type { ArchiverMetrics } from './metrics.js';
import { isTransientPgError } from './pg-errors.js';
import { writeBatch, type BatchResult, type RawEntry } from './sink.js';
import { ack, replicated, type Entry } from './streams.js';

const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 5_000;

export function backoffMs(attempt: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 16));
}

export type BatchDeps = {
  redis: Redis;
  sql: Sql;
  log: Logger;
  metrics: ArchiverMetrics;
  /** the consumer's stop: no retry starts after it */
  signal: AbortSignal;
  waitReplicas: number;
  waitTimeoutMs: number;
  setArchiving?: (ok: boolean) => void;
};

export type Batches = {
  /** Archives some entries of a partition and acknowledges them. */
  handle(p: number, stream: string, entries: Entry[], how: string): Promise<void>;
  /** Throws unless the replicas REDIS_WAIT_REPLICAS asks for hold what `reader` read. */
  awaitReplicas(reader: Redis, stream: string): Promise<void>;
  /** Counts and logs entries Redis deleted before they were archived. */
  reportLost(p: number, stream: string, ids: readonly string[], how: string): void;
};

export function createBatches(deps: BatchDeps): Batches {
  const { redis, sql, log, metrics, signal } = deps;
  const failing = new Set<number>();
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
  const wanted = deps.waitReplicas;
  const awaitReplicas = async (reader: Redis, stream: string): Promise<void> => {
    if (wanted === 0) return;
    const acked = await replicated(reader, stream, wanted, deps.waitTimeoutMs);
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

  return { handle, awaitReplicas, reportLost };
}
