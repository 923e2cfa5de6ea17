// The dispatcher's stream side: consumer group `webhooks` on every partition stream, one loop per
// partition on its own blocking connection. Per batch: map each entry to its webhook event
// (events.ts), match it against the account's webhooks, insert the deliveries it owes in ONE
// statement (ids derived from webhook id + event uid: a replayed batch inserts nothing twice),
// then XACK and arm the lanes. The stream is therefore held only for as long as PostgreSQL takes
// to commit, never for as long as an endpoint is down: what webhooks owe lives in PostgreSQL, and
// the archiver's trim (streams.ts safeTrimId) waits only for this group's acknowledgements.
// PostgreSQL down: the batch is retried with backoff, nothing acknowledged meanwhile.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { duplicateClient, type RedisClient as Redis } from '../../lua/client.js';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { parseEvent } from '../../lua/codec.js';
import { keysFor } from '../../lua/keys.js';
import { DEFAULT_WEBHOOK_EVENTS, type WebhookDef } from '../../lua/webhooks.js';
import { backoffMs } from '../batches.js';
import { parseStreamId } from '../stream-id.js';
import { ack, autoClaim, consumers, dropConsumerIfIdle, ensureGroup, readGroup, type Entry } from '../streams.js';
import type { Definitions } from './definitions.js';
import { webhookEvent, type WebhookEvent } from './events.js';
import type { DispatcherMetrics } from './metrics.js';
import { armLanes, dropWebhook, insertDeliveries, wakeWebhook, type Lane, type NewDelivery } from './queue.js';

export const WEBHOOKS_GROUP = 'webhooks';
const FORGET_CONSUMER_MS = 60 * 60 * 1000;

export type IntakeDeps = {
  redis: Redis; sql: Sql; log: Logger; metrics: DispatcherMetrics; definitions: Definitions
  config: { partitions: number; batchSize: number; batchMs: number; claimIdleMs: number; janitorMs: number; consumer: string }
  /** told when new deliveries were queued (the sender looks for due ones at once) */
  onQueued?: () => void
  setHealthy?: (ok: boolean) => void
};

/** The X-Parley-Delivery id of one event for one webhook: the same on every retry and replay. */
export function deliveryId(webhookId: string, uid: string): string {
  return `whd_${createHash('sha256').update(`${webhookId}\n${uid}`).digest('hex').slice(0, 32)}`;
}

/** Does the webhook want this event? (active, subscribed, its inboxes, private notes, created before it) */
export function wants(w: WebhookDef, ev: WebhookEvent, ts: number): boolean {
  if (!w.active || ts < w.createdAt) return false;
  if (!(w.events ?? DEFAULT_WEBHOOK_EVENTS).includes(ev.event)) return false;
  if (ev.private && !w.includePrivate) return false;
  return w.inboxIds === null || ev.inboxId === null || w.inboxIds.includes(ev.inboxId);
}

export function createIntake(deps: IntakeDeps) {
  const { redis, sql, metrics, definitions, config } = deps;
  const log = deps.log.child({ part: 'intake' });
  const abort = new AbortController();
  const { signal } = abort;
  const readers = new Set<Redis>();
  const loops: Promise<void>[] = [];
  const failing = new Set<number>();
  const pause = (ms: number) => sleep(ms, undefined, { signal }).catch(() => undefined);
  const setFailing = (p: number, bad: boolean) => {
    const before = failing.size === 0;
    if (bad) failing.add(p);
    else failing.delete(p);
    if (before !== (failing.size === 0)) deps.setHealthy?.(failing.size === 0);
  };

  /** The deliveries a batch owes, and the webhook changes it carries (applied in stream order). */
  const plan = async (entries: readonly Entry[]) => {
    const rows: NewDelivery[] = [];
    const changes: { type: string; webhookId: string; active: boolean }[] = [];
    for (const entry of entries) {
      if (entry.fields === null) continue;
      const e = parseEvent(entry.id, entry.fields);
      if (e === null) continue;
      if (e.type.startsWith('webhook.')) {
        definitions.invalidate(e.accountId);
        const w = e.data['webhook'] as { id?: unknown; active?: unknown } | undefined;
        if (typeof w?.id === 'string') changes.push({ type: e.type, webhookId: w.id, active: w.active !== false });
        continue;
      }
      const ev = webhookEvent(e);
      if (ev === null) continue;
      const hooks = await definitions.forAccount(e.accountId);
      if (hooks.length === 0) continue;
      const pos = parseStreamId(e.id);
      if (pos === null) continue;
      for (const w of hooks) {
        if (!wants(w, ev, e.ts)) continue;
        const id = deliveryId(w.id, e.uid);
        rows.push({
          id, webhookId: w.id, accountId: e.accountId, event: ev.event, lane: ev.lane, streamMs: String(pos.ms), streamSeq: String(pos.seq),
          body: JSON.stringify({ id, event: ev.event, createdAt: e.ts, accountId: e.accountId, data: ev.data }),
        });
      }
    }
    return { rows, changes };
  };

  /** Queues what the entries owe (retrying until PostgreSQL takes it), then acknowledges them. */
  const handle = async (p: number, stream: string, entries: readonly Entry[]): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && signal.aborted) return;
      try {
        const { rows, changes } = await plan(entries);
        if (rows.length > 0) await insertDeliveries(sql, rows);
        for (const c of changes) {
          if (c.type === 'webhook.deleted') await dropWebhook(sql, c.webhookId);
          else if (c.active) await wakeWebhook(sql, c.webhookId);
        }
        setFailing(p, false);
        metrics.entries.inc(entries.length);
        metrics.queued.inc(rows.length);
        await ack(redis, stream, entries.map((e) => e.id), WEBHOOKS_GROUP);
        if (rows.length > 0) {
          const lanes = new Map<string, Lane>();
          for (const r of rows) lanes.set(`${r.webhookId}\n${r.lane}`, { webhookId: r.webhookId, lane: r.lane });
          await armLanes(sql, [...lanes.values()]);
          deps.onQueued?.();
        }
        return;
      } catch (err) {
        metrics.retries.inc({ stage: 'queue' });
        setFailing(p, true);
        if (attempt === 1 || attempt % 20 === 0) log.warn({ err, partition: p, attempt }, 'could not queue webhook deliveries; retrying, nothing acknowledged meanwhile');
        await pause(backoffMs(attempt));
      }
    }
  };

  const janitor = async (p: number, stream: string): Promise<void> => {
    let cursor = '0-0';
    for (let round = 0; round < 20 && !signal.aborted; round++) {
      const claim = await autoClaim(redis, stream, config.consumer, config.claimIdleMs, cursor, 100, WEBHOOKS_GROUP);
      if (claim.deleted.length > 0) log.error({ partition: p, count: claim.deleted.length }, 'ALARM: stream entries were trimmed before the webhook dispatcher took them in');
      if (claim.claimed.length > 0) await handle(p, stream, claim.claimed);
      cursor = claim.next;
      if (cursor === '0-0') break;
    }
    for (const c of await consumers(redis, stream, WEBHOOKS_GROUP)) {
      if (c.name !== config.consumer && c.pending === 0 && c.idleMs > FORGET_CONSUMER_MS) await dropConsumerIfIdle(redis, stream, c.name, WEBHOOKS_GROUP);
    }
  };

  const runPartition = async (p: number): Promise<void> => {
    const stream = keysFor(p).events;
    const reader = duplicateClient(redis, { name: `parley-webhooks-p${p}`, maxRetriesPerRequest: null });
    readers.add(reader);
    reader.on('error', (err: Error) => log.debug({ err, partition: p }, 'reader connection error'));
    let groupReady = false;
    let cursor: string | null = '0';
    let nextJanitor = Date.now() + Math.floor(Math.random() * config.janitorMs);
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!groupReady) {
          await ensureGroup(redis, stream, WEBHOOKS_GROUP);
          groupReady = true;
        }
        if (Date.now() >= nextJanitor) {
          try {
            await janitor(p, stream);
          } finally {
            nextJanitor = Date.now() + config.janitorMs;
          }
        }
        if (cursor !== null) {
          const mine = await readGroup(reader, stream, config.consumer, cursor, config.batchSize, undefined, WEBHOOKS_GROUP);
          if (mine.length === 0) cursor = null;
          else {
            cursor = mine[mine.length - 1]?.id ?? null;
            await handle(p, stream, mine);
          }
        } else {
          const block = Math.max(1, Math.min(config.batchMs, nextJanitor - Date.now()));
          const entries = await readGroup(reader, stream, config.consumer, '>', config.batchSize, block, WEBHOOKS_GROUP);
          if (entries.length > 0) await handle(p, stream, entries);
        }
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        metrics.retries.inc({ stage: 'read' });
        if (/NOGROUP/.test(String(err))) groupReady = false;
        cursor = '0';
        if (failures === 1 || failures % 20 === 0) log.warn({ err, partition: p, failures }, 'stream read failed; retrying');
        await pause(backoffMs(failures));
      }
    }
  };

  return {
    start() {
      for (let p = 0; p < config.partitions; p++) {
        loops.push(runPartition(p).catch((err: unknown) => log.fatal({ err, partition: p }, 'partition loop crashed')));
      }
    },
    async stop() {
      abort.abort();
      await Promise.race([Promise.all(loops), sleep(config.batchMs + 2000)]);
      for (const r of readers) r.disconnect();
      await Promise.all(loops);
    },
  };
}
