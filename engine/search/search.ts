// Search over an account's archive (engine/search/query.ts): message content, contact name, email,
// identifier, conversation display id. Results carry the conversation as Redis has it when it is
// live there (else the archived row) and the matching message in its current version (edits laid
// over). Shared by the HTTP route and the WebSocket op `search`.
import type { RedisClient } from '../../lua/client.js'
import type { Sql } from 'postgres'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { archivedConversations, conversationFromRow } from '../archive/conversations.js'
import { messageFromRow } from '../archive/history.js'
import { AppError } from '../errors.js'
import { overlayEdits } from '../messages/edits.js'
import { conversationFromHash, type Conversation } from '../views.js'
import { searchHits } from './query.js'

export const MAX_QUERY_CHARS = 200
const MAX_OFFSET = 1000
const STATUSES = ['open', 'pending', 'snoozed', 'resolved']

export type SearchInput = {
  accountId: string; q: unknown; inboxId: unknown; status: unknown; cursor: unknown; limit: unknown
  /** null = every inbox (administrators) */
  inboxIds: string[] | null
}

/** Checks the search parameters; each bad one is bad_request naming it. */
function read(input: SearchInput) {
  const { q } = input
  if (typeof q !== 'string' || q.trim() === '') throw new AppError('bad_request', '`q` is required: the text to search for')
  if (q.length > MAX_QUERY_CHARS) throw new AppError('bad_request', `\`q\` is over ${MAX_QUERY_CHARS} characters`)
  if (q.includes('\u0000')) throw new AppError('bad_request', '`q` must not contain U+0000')
  const inboxId = input.inboxId ?? null
  if (inboxId !== null && (typeof inboxId !== 'string' || !/^in_[A-Za-z0-9_-]{1,40}$/.test(inboxId))) throw new AppError('bad_request', '`inboxId` must be an inbox id')
  const status = input.status ?? null
  if (status !== null && (typeof status !== 'string' || !STATUSES.includes(status))) throw new AppError('bad_request', `\`status\` must be one of ${STATUSES.join(', ')}`)
  const rawLimit = input.limit ?? 20
  const limit = typeof rawLimit === 'string' ? Number(rawLimit) : rawLimit
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 50) throw new AppError('bad_request', '`limit` must be an integer from 1 to 50')
  let offset = 0
  if (input.cursor !== undefined && input.cursor !== null) {
    const m = typeof input.cursor === 'string' ? /^o(\d{1,4})$/.exec(Buffer.from(input.cursor, 'base64url').toString('utf8')) : null
    if (m === null || Number(m[1]) > MAX_OFFSET) throw new AppError('bad_request', '`cursor` is not a cursor a search returned')
    offset = Number(m[1])
  }
  return { q, inboxId: inboxId as string | null, status: status as string | null, limit, offset }
}

export function createSearch(deps: { sql: Sql | null; redis: RedisClient; partitions: number }) {
  async function search(input: SearchInput): Promise<{ results: { conversation: Conversation; message?: unknown }[]; cursor: string | null }> {
    const p = read(input)
    if (deps.sql === null) throw new AppError('unavailable', 'search needs PostgreSQL: set DATABASE_URL')
    const sql = deps.sql
    const hits = await searchHits(sql, { accountId: input.accountId, inboxIds: input.inboxIds, ...p })
    const page = hits.slice(0, p.limit)
    const k = keysFor(partitionOf(input.accountId, deps.partitions))
    const ids = [...new Set(page.map((h) => h.conversation_id))]
    // conversations: live from Redis where held, else archived
    const pipe = deps.redis.pipeline()
    for (const id of ids) pipe.hgetall(k.conversation(id))
    const live = ((await pipe.exec()) ?? []).map(([, h]) => conversationFromHash((h ?? {}) as Record<string, string>))
    const conversations = new Map<string, Conversation>()
    ids.forEach((id, i) => { const c = live[i]; if (c != null && c.accountId === input.accountId) conversations.set(id, c) })
    const missing = ids.filter((id) => !conversations.has(id))
    for (const row of await archivedConversations(sql, missing, { counts: false })) conversations.set(row.id, conversationFromRow(row) as Conversation)
    // messages: the archived rows of the message hits, edits laid over
    const wanted = page.filter((h) => h.stream_id !== null)
    // each by (conversation, created_at, stream id): one index probe in the one partition that holds it
    const rows = wanted.length === 0 ? [] : await sql<Parameters<typeof messageFromRow>[0][]>`
      select m.stream_id, m.conversation_id, m.account_id, m.inbox_id, m.type, m.content, m.content_type, m.content_attributes, m.private,
             m.echo_id, m.source_id, m.status, m.sender_type, m.sender_id, m.created_at, m.uid, m.updated_at
        from unnest(${sql.array(wanted.map((h) => h.conversation_id))}::text[], ${sql.array(wanted.map((h) => h.stream_id as string))}::text[],
                    ${sql.array(wanted.map((h) => h.at.toISOString()))}::timestamptz[]) as k(c, s, t)
        join lateral (select * from messages x where x.conversation_id = k.c and x.created_at = k.t and x.stream_id = k.s and x.account_id = ${input.accountId} limit 1) m on true`
    const byKey = new Map(rows.map((r) => [`${r.conversation_id} ${r.stream_id}`, messageFromRow(r)]))
    const results: { conversation: Conversation; message?: unknown }[] = []
    for (const h of page) {
      const conversation = conversations.get(h.conversation_id)
      if (conversation === undefined) continue
      if (h.stream_id === null) { results.push({ conversation }); continue }
      const m = byKey.get(`${h.conversation_id} ${h.stream_id}`)
      if (m === undefined) continue
      const [current] = await overlayEdits(deps.redis, k.conversationEdits(h.conversation_id), [m])
      results.push({ conversation, message: current ?? m })
    }
    const next = p.offset + p.limit
    return { results, cursor: hits.length > p.limit && next <= MAX_OFFSET ? Buffer.from(`o${next}`, 'utf8').toString('base64url') : null }
  }
  return { search }
}

export type Search = ReturnType<typeof createSearch>
