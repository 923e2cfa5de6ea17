// Conversation reads and the access rules shared by every op: an agent sees the conversations of
// its inboxes (an administrator: all of its account's), a contact only its own. Another account's
// id is `not_found` (its existence is not revealed); a same-account object out of reach is `forbidden`.
import type { RedisClient as Redis } from '../lua/client.js'
import type { Sql } from 'postgres'
import { archivedMessage, archivedMessageById, historyBefore } from './archive/history.js'
import { keysFor, partitionOf } from '../lua/keys.js'
import { compareStreamIds } from '../lua/stream-id.js'
import type { ConnData } from './connection.js'
import type { Directory } from './directory/index.js'
import type { Rehydrator } from './rehydrate.js'
import { AppError } from './errors.js'
import { isId } from './ids.js'
import { conversationFromHash, messageFromEntry, visibleTo, withStatus, type Conversation, type Message } from './views.js'
import { isMessageEntry, overlayEdits, updateFromEntry } from './messages/edits.js'

const STREAM_ID = /^\d{1,20}-\d{1,20}$/

export function parseStreamId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !STREAM_ID.test(value)) throw new AppError('bad_request', `\`${field}\` must be a message id like "1732212345678-0"`)
  return value
}

export function createConversationReader(deps: {
  redis: Redis; directory: Directory; partitions: number; sql?: Sql | null
  /** brings an evicted conversation back from PostgreSQL (null without DATABASE_URL) */
  rehydrator?: Rehydrator | null
}) {
  const { redis, directory } = deps
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, deps.partitions))

  /** The inboxes an agent may see; null = all of the account's (administrators). */
  function agentInboxes(conn: ConnData): string[] | null {
    if (conn.principal.kind !== 'agent') return []
    return conn.principal.agent.role === 'administrator' ? null : conn.principal.agent.inboxIds
  }

  /** msgCount: entries ever appended to the log (messages, plus the update entries of edits: updCount) */
  async function load(accountId: string, conversationId: string): Promise<(Conversation & { msgCount: number; updCount: number }) | null> {
    const k = keysOf(accountId)
    let h = await redis.hgetall(k.conversation(conversationId))
    // absent: evicted after the retention window? restore it from the archive, transparently
    if (h['id'] === undefined && deps.rehydrator != null && (await deps.rehydrator.restore(k.partition, conversationId, accountId))) {
      h = await redis.hgetall(k.conversation(conversationId))
    }
    const c = conversationFromHash(h)
    if (c === null || c.accountId !== accountId) return null
    const updCount = Number(h['updCount'] ?? 0)
    return { ...c, msgCount: Number(h['msgCount'] ?? 0) + updCount, updCount }
  }

  function checkAccess(conn: ConnData, c: Conversation): void {
    if (conn.principal.kind === 'contact') {
      if (c.contactId !== conn.principal.contactId || c.inboxId !== conn.principal.inbox.id) throw new AppError('forbidden', 'not your conversation')
      return
    }
    const inboxes = agentInboxes(conn)
    if (inboxes !== null && !inboxes.includes(c.inboxId)) throw new AppError('forbidden', 'this conversation belongs to an inbox you are not a member of')
  }

  /** Loads a conversation the connection may see, or throws not_found/forbidden. */
  async function reachable(conn: ConnData, conversationId: unknown): Promise<Conversation & { msgCount: number; updCount: number }> {
    if (!isId(conversationId, 'cv')) {
      if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
      throw new AppError('not_found', 'no such conversation')
    }
    const c = await load(conn.accountId, conversationId)
    if (c === null) throw new AppError('not_found', 'no such conversation')
    checkAccess(conn, c)
    return c
  }

  /** The contact's open/pending/snoozed conversation in an inbox, or null. */
  async function current(accountId: string, contactId: string, inboxId: string): Promise<Conversation | null> {
    const id = await redis.get(keysOf(accountId).contactConversation(contactId, inboxId))
    if (id === null) return null
    const c = await load(accountId, id)
    if (c === null || !['open', 'pending', 'snoozed'].includes(c.status)) return null
    const { msgCount: _m, updCount: _u, ...conv } = c
    return conv
  }

  type Loaded = Conversation & { msgCount: number; updCount: number }
  const editsKey = (conn: ConnData, c: Conversation) => keysOf(conn.accountId).conversationEdits(c.id)

  /** Visible messages in their current version (edits laid over), with read status. */
  async function present(conn: ConnData, c: Loaded, messages: Message[]): Promise<Message[]> {
    const visible = messages.filter((m) => visibleTo(conn.role, m))
    const current = c.updCount > 0 ? await overlayEdits(redis, editsKey(conn, c), visible) : visible
    return current.map((m) => withStatus(m, c))
  }

  const messagesOf = (entries: [string, string[]][]): Message[] =>
    entries.map(([id, fields]) => messageFromEntry(id, fields)).filter((m): m is Message => m !== null)

  /**
   * Messages before `before` (or the newest), oldest first: from the Redis hot tail, continued from
   * PostgreSQL once the tail runs out, so a client pages back across the boundary seamlessly.
   * Update entries in the log are skipped (they are not messages): reads go on until `limit` messages.
   */
  async function history(conn: ConnData, c: Loaded, before: string | null, limit: number) {
    const log = keysOf(conn.accountId).conversationLog(c.id)
    const found: [string, string[]][] = [] // message entries, newest first
    let cursor = before === null ? '+' : `(${before}`
    for (;;) {
      const want = limit + 1 - found.length
      const chunk = (await redis.xrevrange(log, cursor, '-', 'COUNT', want)) as [string, string[]][]
      for (const e of chunk) if (isMessageEntry(e[1])) found.push(e)
      const last = chunk.at(-1)
      if (chunk.length < want || found.length > limit || last === undefined) break
      cursor = `(${last[0]}`
    }
    if (found.length > limit) return { messages: await present(conn, c, messagesOf(found.slice(0, limit).reverse())), more: true }
    const page = found.reverse()
    const trimmed = c.msgCount > (await redis.xlen(log))
    if (!trimmed) return { messages: await present(conn, c, messagesOf(page)), more: false }
    if (deps.sql === undefined || deps.sql === null) {
      // older messages exist but only PostgreSQL has them: say so rather than pretend the start was reached
      return { messages: await present(conn, c, messagesOf(page)), more: false, archiveUnavailable: true }
    }
    const oldest = page[0]
    const oldestMsg = oldest === undefined ? null : messageFromEntry(oldest[0], oldest[1])
    const cold = await historyBefore(deps.sql, {
      accountId: conn.accountId, conversationId: c.id, before: oldest?.[0] ?? before,
      beforeCreatedAt: oldestMsg?.createdAt ?? null, limit: limit - page.length, includePrivate: conn.role === 'agent',
    })
    const messages = await present(conn, c, [...(cold.messages as unknown as Message[]), ...messagesOf(page)])
    return { messages, more: cold.more }
  }

  /**
   * The archived message a repeated echoId refers to, once it has left the hot tail; null when the
   * archive does not hold it (yet) or there is no archive.
   */
  async function archivedEcho(accountId: string, conversationId: string, id: string, echoId: string): Promise<Message | null> {
    if (deps.sql === undefined || deps.sql === null) return null
    return (await archivedMessage(deps.sql, { accountId, conversationId, id, echoId })) as unknown as Message | null
  }

  /**
   * Everything after `after`, in order; complete while `after` lies in the hot tail. A message at or
   * before `after` that was edited or deleted since comes again, once, in its current version, where
   * its latest change happened (clients replace what they hold by id).
   */
  async function resume(conn: ConnData, c: Loaded, after: string) {
    const log = keysOf(conn.accountId).conversationLog(c.id)
    const [length, first] = await Promise.all([redis.xlen(log), redis.xrange(log, '-', '+', 'COUNT', 1)])
    const firstId = first[0]?.[0]
    const trimmed = c.msgCount > length
    const complete = !trimmed || (firstId !== undefined && compareStreamIds(after, firstId) >= 0)
    const entries = (await redis.xrange(log, `(${after}`, '+', 'COUNT', 5000)) as [string, string[]][]
    const items: (Message | null)[] = []
    const changedAt = new Map<string, number>() // earlier message id -> index of its latest change
    for (const [id, fields] of entries) {
      const m = messageFromEntry(id, fields)
      if (m !== null) { items.push(m); continue }
      const u = updateFromEntry(fields)
      if (u === null || compareStreamIds(u.id, after) > 0) continue // a later message comes whole, edits laid over
      const prev = changedAt.get(u.id)
      if (prev !== undefined) items[prev] = null
      changedAt.set(u.id, items.length)
      items.push(u)
    }
    const messages = await present(conn, c, items.filter((m): m is Message => m !== null))
    return { messages, complete: complete && entries.length < 5000 }
  }

  /** A message in its current version (edits laid over): for repeats answered with the first message. */
  async function currentVersion<M extends { id: string }>(accountId: string, conversationId: string, m: M): Promise<M> {
    const [v] = await overlayEdits(redis, keysOf(accountId).conversationEdits(conversationId), [m])
    return v ?? m
  }

  /** An archived message by id (edit/delete of a message that left the hot tail); null without an archive. */
  async function archivedById(accountId: string, conversationId: string, id: string): Promise<Message | null> {
    if (deps.sql === undefined || deps.sql === null) return null
    return (await archivedMessageById(deps.sql, { accountId, conversationId, id })) as unknown as Message | null
  }

  return {
    agentInboxes, accountInboxIds: directory.accountInboxIds, load, reachable, current, history, resume, archivedEcho, keysOf, directory,
    archive: deps.sql ?? null, currentVersion, archivedById,
  }
}

export type ConversationReader = ReturnType<typeof createConversationReader>
