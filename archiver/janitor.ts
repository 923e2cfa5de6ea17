// The consumer's janitor pass over one partition (step 3, every janitorMs): did Redis go back in
// time behind the PostgreSQL checkpoint (alarm), take over entries a stalled consumer holds
// (XAUTOCLAIM, archived through the same batches), trim what every group acknowledged and
// PostgreSQL committed, and forget consumers that died long ago with nothing pending.
import type { RedisClient as Redis } from '../lua/client.js';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { keysFor } from '../lua/keys.js';
import type { Batches } from './batches.js';
import type { ArchiverMetrics } from './metrics.js';
import { compareStreamIds } from './stream-id.js';
import { autoClaim, consumers, dropConsumerIfIdle, GROUP, groups, safeTrimId, trimBelow } from './streams.js';

const CLAIM_COUNT = 100;
const CLAIM_ROUNDS = 20;

export type JanitorDeps = {
  redis: Redis;
  sql: Sql;
  log: Logger;
  metrics: ArchiverMetrics;
  signal: AbortSignal;
  batches: Batches;
  /** this process's consumer name */
  consumer: string;
  claimIdleMs: number;
  trim: boolean;
  /** idle consumers with nothing pending are removed after this long */
  forgetMs: number;
};

export function createJanitor(deps: JanitorDeps): (partition: number) => Promise<void> {
  const { redis, sql, log, metrics, signal, batches } = deps;
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
      const claim = await autoClaim(redis, stream, deps.consumer, deps.claimIdleMs, cursor, CLAIM_COUNT);
      batches.reportLost(p, stream, claim.deleted, 'XAUTOCLAIM');
      if (claim.claimed.length > 0) {
        metrics.claimed.inc(claim.claimed.length);
        log.info({ partition: p, count: claim.claimed.length }, 'claimed entries pending with a stalled consumer');
        await batches.handle(p, stream, claim.claimed, 'claimed');
      }
      cursor = claim.next;
      if (cursor === '0-0') break;
    }
    // 2. trim what every group acknowledged and PostgreSQL committed
    if (deps.trim && !signal.aborted) {
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
      if (c.name !== deps.consumer && c.pending === 0 && c.idleMs > deps.forgetMs) {
        if (await dropConsumerIfIdle(redis, stream, c.name)) log.info({ partition: p, dropped: c.name }, 'idle consumer removed');
      }
    }
  };

  return janitor;
}
