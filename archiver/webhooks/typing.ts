// Typing webhooks (`conversation_typing_on` / `_off`, only for a webhook that lists them). Typing
// is no partition-stream entry: the engine only publishes it on the partition fan-out channels,
// so this subscribes to them and queues a delivery for each typing notice, best effort: typing
// that happens while the dispatcher is down or unsubscribed (or PostgreSQL is unreachable) is not
// delivered later: typing is not in the notice log, so there is nothing to catch up from. It
// listens the way an engine node does (lua/feeds): classic SUBSCRIBE on one instance, one
// SSUBSCRIBE per partition on its master on a Redis Cluster, following failovers and slot moves;
// WEBHOOKS_TYPING=0 turns it off. Once queued it is a delivery like any other (signed, retried, dead-lettered),
// in a lane of its own per conversation, so a typing delivery never holds a message back. `data`
// is the protocol's typing event data, `{conversationId, on, sender}`.
import { randomBytes } from 'node:crypto';
import { isCluster, type RedisClient as Redis } from '../../lua/client.js';
import { createPubsubFeed, type Feed } from '../../lua/feeds/feed.js';
import { createShardedFeed } from '../../lua/feeds/sharded.js';
import type { Logger } from 'pino';
import type { Sql } from 'postgres';
import { noticeId, splitNotice } from '../../lua/codec.js';
import { keysFor } from '../../lua/keys.js';
import type { Definitions } from './definitions.js';
import type { WebhookEvent } from './events.js';
import { wants } from './intake.js';
import type { DispatcherMetrics } from './metrics.js';
import { armLanes, insertDeliveries, type NewDelivery } from './queue.js';

/** The partition fan-out channels as an engine node hears them: one connection, or a shard subscription each. */
function typingFeed(redis: Redis, partitions: number, log: Logger, password: string | null): { feed: Feed; close(): void } {
  if (isCluster(redis)) return { feed: createShardedFeed({ cluster: redis, partitions, log, nodeId: 'webhooks-typing', password }), close: () => {} };
  const sub = redis.duplicate({ connectionName: 'parley-webhooks-typing', maxRetriesPerRequest: null });
  sub.on('error', (err: Error) => log.debug({ err }, 'subscriber connection error'));
  const channels = Array.from({ length: partitions }, (_, p) => keysFor(p).fanout);
  return { feed: createPubsubFeed({ sub, channels, log }), close: () => sub.disconnect() };
}

export function createTypingIntake(deps: {
  redis: Redis; sql: Sql; log: Logger; metrics: DispatcherMetrics; definitions: Definitions; partitions: number; onQueued?: () => void
  /** REDIS_CLUSTER_PASSWORD, for the shard subscriber connections */
  clusterPassword?: string | null
}) {
  const { sql, definitions } = deps;
  const log = deps.log.child({ part: 'typing' });
  const { feed, close } = typingFeed(deps.redis, deps.partitions, log, deps.clusterPassword ?? null);
  let seq = 0;

  const handle = async (accountId: string, inboxId: string, data: string): Promise<void> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const d = parsed as { conversationId?: unknown; on?: unknown };
    if (typeof d.conversationId !== 'string' || typeof d.on !== 'boolean') return;
    const now = Date.now();
    const ev: WebhookEvent = {
      event: d.on ? 'conversation_typing_on' : 'conversation_typing_off', inboxId: inboxId || null, private: false,
      lane: `typing:${d.conversationId}`, data: parsed as Record<string, unknown>,
    };
    const hooks = (await definitions.forAccount(accountId)).filter((w) => wants(w, ev, now));
    if (hooks.length === 0) return;
    const rows: NewDelivery[] = hooks.map((w) => {
      const id = `whd_${randomBytes(16).toString('hex')}`;
      return {
        id, webhookId: w.id, accountId, event: ev.event, lane: ev.lane, streamMs: String(now), streamSeq: String(seq++),
        body: JSON.stringify({ id, event: ev.event, createdAt: now, accountId, data: ev.data }),
      };
    });
    await insertDeliveries(sql, rows);
    deps.metrics.queued.inc(rows.length);
    await armLanes(sql, rows.map((r) => ({ webhookId: r.webhookId, lane: r.lane })));
    deps.onQueued?.();
  };

  const notice = (_partition: number, raw: string): void => {
    // every fan-out notice comes here; only typing matters. Script notices carry their notice-log
    // id ('<id> {header}\n{data}') and are never typing, which the engine publishes unlogged.
    if (noticeId(raw) !== null || !raw.includes('"t":"typing"')) return;
    const n = splitNotice(raw);
    if (n === null || n.header.t !== 'typing') return;
    handle(n.header.a, n.header.i, n.data).catch((err: unknown) => {
      deps.metrics.retries.inc({ stage: 'typing' });
      log.warn({ err }, 'typing delivery not queued (typing is best effort)');
    });
  };

  return {
    /** resolves once every partition is subscribed */
    async start(): Promise<void> {
      // typing missed while a partition was down is not caught up (best effort): nothing to do on down/up
      await feed.start({ notice, down: () => {}, up: () => {} });
    },
    stop(): void {
      feed.stop().catch(() => {});
      close();
    },
  };
}
