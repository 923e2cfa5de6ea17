// Redis memory stays bounded (DESIGN.md "Redis holds what is live"): every tick, per partition, the
// resolved conversations idle longer than RETENTION_MS (the inbox's `…:st:resolved` list is scored
// by lastActivityAt, so they are a range query) are checked against PostgreSQL: the archived row
// must hold the same state and `count(messages)` must equal the hash's msgCount (every message
// archived). Only then does evictConversation remove them, and it refuses if the hash changed in
// between. Anything touching an evicted conversation brings it back (engine/rehydrate.ts).
// Work is bounded per tick (`batch` candidates per partition); a per-list offset moves the sweep
// past candidates that stay (not archived yet, recently rehydrated) so they never starve the rest.
// The same pass counts the conversations held in Redis (status-list cardinalities) for /metrics.
import type { RedisClient as Redis } from '../lua/client.js'
import type { Sql } from 'postgres'
import client, { type Registry } from 'prom-client'
import { keysFor } from '../lua/keys.js'
import { evictContactCall, evictConversationCall, type Scripts } from '../lua/scripts.js'
import { archivedContacts, contactFromRow, type ArchivedContactRow } from './archive/contacts.js'
import { archivedConversations, conversationFromRow, type ArchivedConversationRow } from './archive/conversations.js'
import { editsArchived } from './archive/edits.js'
import { contactFrom } from './directory/index.js'
import { newUid } from './ids.js'
import type { Logger } from './log.js'
import { CONVERSATION_FIELDS, conversationFromHash, type Conversation } from './views.js'
import { createPeriodic, eachPartition } from './periodic.js'

const STATUSES = ['open', 'pending', 'snoozed', 'resolved'] as const

export function createRetentionMetrics(registry: Registry) {
  return {
    conversations: new client.Gauge({
      name: 'parley_redis_conversations', help: 'Conversations held in Redis, by partition and status (status-list cardinalities)',
      labelNames: ['partition', 'status'] as const, registers: [registry],
    }),
    evicted: new client.Counter({
      name: 'parley_conversations_evicted_total', help: 'Resolved, archived conversations evicted from Redis after the retention window',
      registers: [registry],
    }),
    rehydrated: new client.Counter({
      name: 'parley_conversations_rehydrated_total', help: 'Evicted conversations written back to Redis from PostgreSQL', registers: [registry],
    }),
    contacts: new client.Gauge({
      name: 'parley_redis_contacts', help: 'Contacts held in Redis, by partition (the touched index)', labelNames: ['partition'] as const, registers: [registry],
    }),
    contactsEvicted: new client.Counter({
      name: 'parley_contacts_evicted_total', help: 'Idle, archived contacts with no current conversation evicted from Redis after the retention window',
      registers: [registry],
    }),
    contactsRehydrated: new client.Counter({
      name: 'parley_contacts_rehydrated_total', help: 'Evicted contacts written back to Redis from PostgreSQL', registers: [registry],
    }),
    skipped: new client.Counter({
      name: 'parley_eviction_skipped_total', help: 'Eviction candidates kept, by reason (unarchived: PostgreSQL does not hold their state yet)',
      labelNames: ['reason'] as const, registers: [registry],
    }),
  }
}

export type RetentionMetrics = ReturnType<typeof createRetentionMetrics>

/** How often the sweep runs: a tenth of the window, between the maintenance interval and a minute. */
export function evictionIntervalMs(retentionMs: number, sweepMs: number): number {
  if (retentionMs === 0) return 60_000
  return Math.min(60_000, Math.max(sweepMs, Math.floor(retentionMs / 10)))
}

/** Fields the archive may lag on by design: seen times (the archived write is throttled) and the
 * unread badge (not archived; rehydration recounts it). Everything else must match exactly. */
const LENIENT = new Set<string>(['agentLastSeenAt', 'assigneeLastSeenAt', 'contactLastSeenAt', 'unreadCount'])

/** JSON with sorted keys; an empty array and an empty object are the same (cjson cannot tell them apart). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? '{}' : `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v ?? null)
}

/** Does the archive hold this live state (every field that is archived) and every message? */
export function archivedMatches(live: Conversation, msgCount: number, row: ArchivedConversationRow): boolean {
  if (row.msg_count !== msgCount) return false
  const archived = conversationFromRow(row)
  return CONVERSATION_FIELDS.every((f) => LENIENT.has(f) || canonical(live[f]) === canonical(archived[f]))
}

/** Does the archive hold this contact hash's exact state (its newest update, every profile field)? */
export function contactArchivedMatches(h: Record<string, string>, row: ArchivedContactRow): boolean {
  const live = contactFrom(h)
  if (live === null) return false
  const archived = contactFromRow(row)
  if (Number(h['updatedAt'] ?? h['createdAt'] ?? -1) !== row.updated_at.getTime()) return false
  return (['accountId', 'name', 'email', 'phone', 'identifier', 'verified', 'customAttributes'] as const)
    .every((f) => canonical(live[f]) === canonical(archived[f]))
}

export type EvictionDeps = {
  redis: Redis
  /** eviction needs the archive; without it only the census runs */
  sql: Sql | null
  scripts: Scripts
  partitions: number
  /** 0 = never evict */
  retentionMs: number
  intervalMs: number
  now: () => number
  log: Logger
  metrics: RetentionMetrics
  /** candidates examined per partition per tick */
  batch?: number
}

export type SweepResult = { evicted: number; kept: number }
/** conversations at the top level (as before contacts were evicted too), contacts apart */
export type TickResult = SweepResult & { contacts: SweepResult }

export function createEviction(deps: EvictionDeps) {
  const { redis } = deps
  const batch = deps.batch ?? 100
  const enabled = deps.sql !== null && deps.retentionMs > 0
  /** per resolved list: how many idle candidates at its start stay (skip them next tick) */
  const offsets = new Map<string, number>()
  /** per partition: how many idle contacts at the start of the touched index stay */
  const contactOffsets = new Map<number, number>()

  async function census(p: number, inboxes: string[]): Promise<void> {
    const k = keysFor(p)
    const pipe = redis.pipeline()
    for (const inbox of inboxes) for (const st of STATUSES) pipe.zcard(k.inboxStatusList(inbox, st))
    pipe.zcard(k.contactsTouched)
    const counts = (await pipe.exec()) ?? []
    deps.metrics.contacts.set({ partition: String(p) }, Number(counts.pop()?.[1] ?? 0))
    STATUSES.forEach((st, i) => {
      let n = 0
      for (let j = i; j < counts.length; j += STATUSES.length) n += Number(counts[j]?.[1] ?? 0)
      deps.metrics.conversations.set({ partition: String(p), status: st }, n)
    })
  }

  async function sweepPartition(p: number, sql: Sql, inboxes: string[]): Promise<SweepResult> {
    const k = keysFor(p)
    const now = deps.now()
    const cutoff = now - deps.retentionMs
    // 1. idle resolved conversations, past the ones that stayed last time
    const picked: { list: string; start: number; ids: string[]; asked: number }[] = []
    let room = batch
    for (const inbox of inboxes) {
      if (room <= 0) break
      const list = k.inboxStatusList(inbox, 'resolved')
      const start = offsets.get(list) ?? 0
      const ids = await redis.zrangebyscore(list, '-inf', `(${cutoff}`, 'LIMIT', start, room)
      picked.push({ list, start, ids, asked: room })
      room -= ids.length
    }
    const ids = picked.flatMap((x) => x.ids)
    if (ids.length === 0) {
      for (const x of picked) offsets.delete(x.list)
      return { evicted: 0, kept: 0 }
    }
    // 2. their hashes, and the archive's view of them (one query for the batch)
    const read = redis.pipeline()
    for (const id of ids) read.hgetall(k.conversation(id))
    const hashes = ((await read.exec()) ?? []).map(([, h]) => (h ?? {}) as Record<string, string>)
    const rows = new Map((await archivedConversations(sql, ids)).map((r) => [r.id, r]))
    // 3. evict what matches; the script refuses if anything changed since the read
    const evictedIds = new Set<string>()
    const keep = (reason: string) => deps.metrics.skipped.inc({ reason })
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string
      const h = hashes[i] ?? {}
      const live = conversationFromHash(h)
      const row = rows.get(id)
      if (live === null) { keep('missing'); continue }
      if (live.status !== 'resolved') { keep('status'); continue }
      if (Number(h['rehydratedAt'] ?? 0) >= cutoff) { keep('recent'); continue }
      if (row === undefined || !archivedMatches(live, Number(h['msgCount'] ?? 0), row)) { keep('unarchived'); continue }
      // edited or deleted messages: the archive must hold their current version (the edits hash goes too)
      if (Number(h['updCount'] ?? 0) > 0 && !(await editsArchived(sql, id, await redis.hgetall(k.conversationEdits(id))))) { keep('unarchived'); continue }
      const reply = await deps.scripts.run(evictConversationCall(k, { conversationId: id, cutoff, expected: h, now, uid: newUid() }))
      if (reply[0] === 1) {
        evictedIds.add(id)
        deps.metrics.evicted.inc()
      } else keep(String(reply[1]))
    }
    for (const x of picked) {
      const kept = x.ids.filter((id) => !evictedIds.has(id)).length
      if (x.ids.length < x.asked) offsets.delete(x.list) // reached the end of the idle range: start over next time
      else offsets.set(x.list, x.start + kept)
    }
    if (evictedIds.size > 0) deps.log.debug({ partition: p, evicted: evictedIds.size, kept: ids.length - evictedIds.size }, 'conversations evicted')
    return { evicted: evictedIds.size, kept: ids.length - evictedIds.size }
  }

  /**
   * Contacts untouched for the window (the touched index is scored by last touch), whose archived
   * row holds their exact state. evictContact also keeps any with a current conversation.
   */
  async function sweepContacts(p: number, sql: Sql): Promise<SweepResult> {
    const k = keysFor(p)
    const now = deps.now()
    const cutoff = now - deps.retentionMs
    const start = contactOffsets.get(p) ?? 0
    const ids = await redis.zrangebyscore(k.contactsTouched, '-inf', `(${cutoff}`, 'LIMIT', start, batch)
    if (ids.length === 0) {
      contactOffsets.delete(p)
      return { evicted: 0, kept: 0 }
    }
    const read = redis.pipeline()
    for (const id of ids) read.hgetall(k.contact(id))
    const hashes = ((await read.exec()) ?? []).map(([, h]) => (h ?? {}) as Record<string, string>)
    const rows = new Map((await archivedContacts(sql, null, ids)).map((r) => [r.id, r]))
    let evicted = 0
    let kept = 0
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string
      const h = hashes[i] ?? {}
      const row = rows.get(id)
      // a missing hash goes to the script too: it drops the stale index entry
      if (h['id'] !== undefined && (row === undefined || !contactArchivedMatches(h, row))) {
        deps.metrics.skipped.inc({ reason: 'contact_unarchived' })
        kept++
        continue
      }
      const reply = await deps.scripts.run(evictContactCall(k, {
        contactId: id, accountId: h['accountId'] ?? '', cutoff, expected: h, now, uid: newUid(),
      }))
      if (reply[0] === 1) {
        evicted++
        deps.metrics.contactsEvicted.inc()
      } else if (reply[1] !== 'missing') {
        deps.metrics.skipped.inc({ reason: `contact_${String(reply[1])}` })
        kept++
      }
    }
    // kept ones stay at the start of the idle range: step past them next time, start over at its end
    if (ids.length < batch) contactOffsets.delete(p)
    else contactOffsets.set(p, start + kept)
    if (evicted > 0) deps.log.debug({ partition: p, evicted, kept }, 'contacts evicted')
    return { evicted, kept }
  }

  /** One pass over every partition: census, then eviction when enabled (tests call it directly). */
  async function tick(): Promise<TickResult> {
    const total: TickResult = { evicted: 0, kept: 0, contacts: { evicted: 0, kept: 0 } }
    const results = await eachPartition(deps.partitions, deps.log, 'eviction pass', async (p) => {
      const inboxes = [...new Set(await redis.hvals(keysFor(p).websites))].sort()
      await census(p, inboxes)
      if (!enabled || deps.sql === null) return { conversations: { evicted: 0, kept: 0 }, contacts: { evicted: 0, kept: 0 } }
      // conversations first: a contact whose last conversation leaves now may leave in this pass too
      const conversations = await sweepPartition(p, deps.sql, inboxes)
      return { conversations, contacts: await sweepContacts(p, deps.sql) }
    })
    for (const r of results) {
      total.evicted += r.conversations.evicted
      total.kept += r.conversations.kept
      total.contacts.evicted += r.contacts.evicted
      total.contacts.kept += r.contacts.kept
    }
    return total
  }

  const periodic = createPeriodic(deps.intervalMs, tick)

  return { start: periodic.start, stop: periodic.stop, tick, enabled }
}

export type Eviction = ReturnType<typeof createEviction>
