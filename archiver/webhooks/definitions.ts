// The dispatcher's view of webhook definitions (Redis, format in lua/webhooks.ts): an account's
// webhooks, cached until the intake reads a webhook.* entry of that account on the stream (so a
// change applies from its place in the stream on) or for `ttlMs` at most; and deactivation after
// a 410, written like the engine writes any change: hash and stream event in one MULTI.
import type { RedisClient as Redis } from '../../lua/client.js';
import { eventFields } from '../../lua/codec.js';
import { keysFor, partitionOf } from '../../lua/keys.js';
import { webhookFrom, webhookHash, webhookPublic, type WebhookDef } from '../../lua/webhooks.js';
import { randomBytes } from 'node:crypto';

export type Definitions = {
  /** the account's webhooks (active or not) */
  forAccount(accountId: string): Promise<WebhookDef[]>;
  /** one webhook, or null when it was deleted */
  get(accountId: string, webhookId: string): Promise<WebhookDef | null>;
  /** forget what is cached for an account (a webhook.* entry was read) */
  invalidate(accountId: string): void;
  /** marks the webhook inactive with a reason (the endpoint answered 410 Gone) */
  deactivate(accountId: string, webhookId: string, reason: string): Promise<boolean>;
};

export function createDefinitions(deps: { redis: Redis; partitions: number; ttlMs?: number; now?: () => number }): Definitions {
  const { redis } = deps;
  const ttlMs = deps.ttlMs ?? 5_000;
  const now = deps.now ?? Date.now;
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, deps.partitions));
  const cache = new Map<string, { at: number; defs: Promise<WebhookDef[]> }>();

  const load = async (accountId: string): Promise<WebhookDef[]> => {
    const k = keysOf(accountId);
    const ids = await redis.smembers(k.accountWebhooks(accountId));
    if (ids.length === 0) return [];
    const pipe = redis.pipeline();
    for (const id of ids) pipe.hgetall(k.webhook(id));
    const rows = (await pipe.exec()) ?? [];
    return rows
      .map(([, h]) => webhookFrom((h ?? {}) as Record<string, string>))
      .filter((w): w is WebhookDef => w !== null && w.accountId === accountId);
  };

  const forAccount = (accountId: string): Promise<WebhookDef[]> => {
    const hit = cache.get(accountId);
    if (hit !== undefined && now() - hit.at < ttlMs) return hit.defs;
    const defs = load(accountId);
    cache.set(accountId, { at: now(), defs });
    defs.catch(() => cache.delete(accountId));
    if (cache.size > 10_000) for (const [key] of cache) { cache.delete(key); if (cache.size <= 5_000) break; }
    return defs;
  };

  return {
    forAccount,
    async get(accountId, webhookId) {
      return (await forAccount(accountId)).find((w) => w.id === webhookId) ?? null;
    },
    invalidate(accountId) {
      cache.delete(accountId);
    },
    async deactivate(accountId, webhookId, reason) {
      const k = keysOf(accountId);
      const w = webhookFrom(await redis.hgetall(k.webhook(webhookId)));
      if (w === null || !w.active) return false;
      const next: WebhookDef = { ...w, active: false, deactivatedReason: reason, updatedAt: now() };
      await redis.multi()
        .hset(k.webhook(webhookId), webhookHash(next))
        .xadd(k.events, '*', ...eventFields('webhook.updated', accountId, randomBytes(16).toString('base64url'), next.updatedAt,
          { webhook: webhookPublic(next), changed: ['active'] }))
        .exec();
      cache.delete(accountId);
      return true;
    },
  };
}
