// Webhook definitions in Redis (hash per webhook, set per account; format in lua/webhooks.ts). Every
// change is written together with its event on the partition stream in one MULTI (webhook.created,
// webhook.updated with `changed`, webhook.deleted), without secrets: the dispatcher reads the
// stream in order and drops its cached definitions at that point, the archiver ignores them.
import type { RedisClient as Redis } from '../../lua/client.js'
import { eventFields } from '../../lua/codec.js'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { webhookFrom, webhookHash, webhookPublic, type WebhookDef, type WebhookEventName } from '../../lua/webhooks.js'
import { applyPatch } from '../directory/index.js'
import { newId, newUid } from '../ids.js'
import { randomBytes } from 'node:crypto'

export type NewWebhook = { url: string; events: WebhookEventName[] | null; inboxIds: string[] | null; includePrivate: boolean }
export type WebhookPatch = Partial<NewWebhook & { active: boolean }>

/** `whsec_` + 32 random bytes: the HMAC key is this whole string, exactly as returned. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`
}

export function createWebhookStore(deps: { redis: Redis; partitions: number; now?: () => number }) {
  const { redis } = deps
  const now = deps.now ?? Date.now
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, deps.partitions))

  async function get(accountId: string, id: string): Promise<WebhookDef | null> {
    const w = webhookFrom(await redis.hgetall(keysOf(accountId).webhook(id)))
    return w !== null && w.accountId === accountId ? w : null
  }

  async function list(accountId: string): Promise<WebhookDef[]> {
    const k = keysOf(accountId)
    const ids = await redis.smembers(k.accountWebhooks(accountId))
    if (ids.length === 0) return []
    const pipe = redis.pipeline()
    for (const id of ids) pipe.hgetall(k.webhook(id))
    const rows = (await pipe.exec()) ?? []
    return rows
      .map(([, h]) => webhookFrom(h as Record<string, string>))
      .filter((w): w is WebhookDef => w !== null && w.accountId === accountId)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
  }

  async function write(w: WebhookDef, type: string, extra: Record<string, unknown>): Promise<void> {
    const k = keysOf(w.accountId)
    await redis.multi()
      .hset(k.webhook(w.id), webhookHash(w))
      .sadd(k.accountWebhooks(w.accountId), w.id)
      .xadd(k.events, '*', ...eventFields(type, w.accountId, newUid(), w.updatedAt, { webhook: webhookPublic(w), ...extra }))
      .exec()
  }

  async function create(accountId: string, input: NewWebhook): Promise<WebhookDef> {
    const ts = now()
    const w: WebhookDef = {
      id: newId('wh'), accountId, url: input.url, events: input.events, inboxIds: input.inboxIds, includePrivate: input.includePrivate,
      active: true, deactivatedReason: null, secret: newWebhookSecret(), previousSecret: null, previousSecretExpiresAt: null,
      createdAt: ts, updatedAt: ts,
    }
    await write(w, 'webhook.created', {})
    return w
  }

  /** null when it is not a webhook of the account. */
  async function update(accountId: string, id: string, patch: WebhookPatch): Promise<WebhookDef | null> {
    const current = await get(accountId, id)
    if (current === null) return null
    const { next, changed } = applyPatch(current, patch, ['url', 'events', 'inboxIds', 'includePrivate', 'active'])
    if (changed.length === 0) return current
    // reactivating clears the reason the dispatcher gave
    const w = { ...next, deactivatedReason: next.active ? null : current.deactivatedReason, updatedAt: now() }
    await write(w, 'webhook.updated', { changed })
    return w
  }

  /** A new secret; the old one keeps signing for `overlapMs`. */
  async function rotateSecret(accountId: string, id: string, overlapMs: number): Promise<WebhookDef | null> {
    const current = await get(accountId, id)
    if (current === null) return null
    const ts = now()
    const w: WebhookDef = {
      ...current, secret: newWebhookSecret(), previousSecret: overlapMs > 0 ? current.secret : null,
      previousSecretExpiresAt: overlapMs > 0 ? ts + overlapMs : null, updatedAt: ts,
    }
    await write(w, 'webhook.updated', { changed: ['secret'] })
    return w
  }

  async function remove(accountId: string, id: string): Promise<boolean> {
    const current = await get(accountId, id)
    if (current === null) return false
    const k = keysOf(accountId)
    await redis.multi()
      .del(k.webhook(id))
      .srem(k.accountWebhooks(accountId), id)
      .xadd(k.events, '*', ...eventFields('webhook.deleted', accountId, newUid(), now(), { webhook: { id, accountId } }))
      .exec()
    return true
  }

  return { get, list, create, update, rotateSecret, remove }
}

export type WebhookStore = ReturnType<typeof createWebhookStore>
