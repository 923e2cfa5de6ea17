// Rehydration: an evicted conversation (engine/eviction.ts) comes back from PostgreSQL the moment
// anything touches it, transparently for the caller. `restore` reads the archived row and the newest
// messages and writes them with rehydrateConversation (only if the hash is still absent: concurrent
// restores on any number of nodes end with one copy). Reads call it from conversations.ts load();
// scripts that answer "not found" for a conversation key are retried once after a restore
// (withRehydration), so message.send, status, seen, rate, update and assign need no change.
//
// Only a `resolved` row is restored: that is the only state eviction removes, so a missing hash of
// an open conversation (lost Redis data) stays not_found instead of coming back from a stale row.
import type { Sql } from 'postgres'
import { keysFor, partitionOf, partitionOfKey } from '../lua/keys.js'
import { compareStreamIds } from '../lua/stream-id.js'
import { rehydrateContactCall, rehydrateConversationCall, type Scripts } from '../lua/scripts.js'
import { archivedContacts, contactHashFromRow } from './archive/contacts.js'
import { archivedConversations, archivedTail, hashFromRow } from './archive/conversations.js'
import { AppError } from './errors.js'
import type { Logger } from './log.js'

/** messages put back in the log at most: older pages come from PostgreSQL as for any trimmed log */
export const REHYDRATE_TAIL = 100

export type RehydratorDeps = {
  sql: Sql
  scripts: Scripts
  partitions: number
  hotTail: number
  now: () => number
  log: Logger
  /** counted once per conversation written back */
  onRehydrated?: () => void
  /** counted once per contact written back */
  onContactRehydrated?: () => void
}


export function createRehydrator(deps: RehydratorDeps) {
  const inflight = new Map<string, Promise<boolean>>()

  async function load(partition: number, conversationId: string, accountId: string | null): Promise<boolean> {
    const [row] = await archivedConversations(deps.sql, [conversationId])
    if (row === undefined || row.status !== 'resolved') return false
    if (accountId !== null && row.account_id !== accountId) return false
    // a conversation id reached through another account's partition is not this one's to restore
    if (partitionOf(row.account_id, deps.partitions) !== partition) return false
    const tail = await archivedTail(deps.sql, row.account_id, row.id, Math.min(deps.hotTail, REHYDRATE_TAIL))
    const messages: { id: string; json: string }[] = []
    let last: string | null = null
    for (const { id, ...m } of tail) {
      // a stream id reused after a Redis failover: keep the first, the log cannot hold both
      if (last !== null && compareStreamIds(id, last) <= 0) continue
      messages.push({ id, json: JSON.stringify(m) })
      last = id
    }
    if (messages.length < tail.length) deps.log.warn({ conversationId, dropped: tail.length - messages.length }, 'rehydration skipped archived messages with a reused stream id')
    const reply = await deps.scripts.run(rehydrateConversationCall(keysFor(partition), {
      conversationId: row.id, inboxId: row.inbox_id, status: 'resolved', score: row.last_activity_at.getTime(),
      fields: hashFromRow(row, { rehydratedAt: String(deps.now()) }), messages,
    }))
    if (reply[0] === 0) throw new Error(`rehydrateConversation refused: ${String(reply[1])}`)
    if (reply[0] === 1) {
      deps.onRehydrated?.()
      deps.log.debug({ conversationId, messages: reply[1] }, 'conversation rehydrated from the archive')
    }
    return true
  }

  /** Runs `work` once per key at a time on this node; PostgreSQL errors answer `unavailable`. */
  async function once(key: string, what: Record<string, unknown>, work: () => Promise<boolean>): Promise<boolean> {
    let p = inflight.get(key)
    if (p === undefined) {
      p = work().finally(() => inflight.delete(key))
      inflight.set(key, p)
    }
    try {
      return await p
    } catch (err) {
      if (err instanceof AppError) throw err
      deps.log.warn({ err, ...what }, 'rehydration failed')
      throw new AppError('unavailable', 'the archive is unreachable, try again', { retryAfterMs: 1000 })
    }
  }

  /**
   * Writes an evicted conversation back; true when it is live in Redis afterwards (restored now or
   * by someone else meanwhile), false when the archive has no evicted conversation by that id.
   * PostgreSQL unreachable: `unavailable` (the conversation may exist; not_found would be a lie).
   */
  async function restore(partition: number, conversationId: string, accountId: string | null = null): Promise<boolean> {
    return once(`${partition}:${conversationId}`, { conversationId }, () => load(partition, conversationId, accountId))
  }

  async function loadContact(accountId: string, contactId: string): Promise<boolean> {
    const [row] = await archivedContacts(deps.sql, accountId, [contactId])
    if (row === undefined) return false
    const now = deps.now()
    const reply = await deps.scripts.run(rehydrateContactCall(keysFor(partitionOf(accountId, deps.partitions)), {
      contactId: row.id, accountId, fields: contactHashFromRow(row, { rehydratedAt: String(now) }), identifier: row.identifier, now,
    }))
    if (reply[0] === 0) {
      deps.log.warn({ contactId: row.id, reason: reply[1] }, 'archived contact not restored')
      return false
    }
    if (reply[0] === 1) {
      deps.onContactRehydrated?.()
      deps.log.debug({ contactId: row.id }, 'contact rehydrated from the archive')
    }
    return true
  }

  /**
   * Writes an evicted contact back (any archived contact of the account: contacts are never
   * deleted); true when it is live in Redis afterwards. PostgreSQL unreachable: `unavailable`.
   */
  async function restoreContact(accountId: string, contactId: string): Promise<boolean> {
    return once(`${accountId}:${contactId}`, { accountId, contactId }, () => loadContact(accountId, contactId))
  }

  return { restore, restoreContact }
}

export type Rehydrator = ReturnType<typeof createRehydrator>

/** Scripts that take the conversation hash as KEYS[1] and answer { -1 } when it is missing. */
const CONVERSATION_SCRIPTS = new Set([
  'appendMessage', 'setConversationStatus', 'markSeen', 'rateConversation', 'updateConversation', 'assignConversation', 'autoAssign',
  'updateMessage',
])
const CONVERSATION_KEY = /^\{[^}]*\}:conv:(cv_[A-Za-z0-9_-]{22})$/

/** `scripts` whose conversation scripts, on "not found", restore the conversation and run once more. */
export function withRehydration(scripts: Scripts, rehydrator: Rehydrator): Scripts {
  return {
    ...scripts,
    run: async (call) => {
      const reply = await scripts.run(call)
      if (reply[0] !== -1 || !CONVERSATION_SCRIPTS.has(call.name)) return reply
      const m = CONVERSATION_KEY.exec(call.keys[0] ?? '')
      const p = partitionOfKey(call.keys[0] ?? '')
      if (m === null || p === null || !(await rehydrator.restore(p, m[1] as string))) return reply
      return scripts.run(call)
    },
  }
}
