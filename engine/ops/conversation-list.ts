// conversation.list: an agent's conversations with one status, newest activity first, paged by a
// cursor. Redis holds every open, pending and snoozed conversation and the resolved ones inside the
// retention window; resolved conversations evicted from Redis (engine/eviction.ts) are listed from
// PostgreSQL, merged into the same order, so an agent pages from last week's into last year's
// without noticing the boundary. A conversation Redis holds is always shown as Redis has it.
import { archivedConversationPage, conversationFromRow } from '../archive/conversations.js'
import { AppError } from '../errors.js'
import { isId } from '../ids.js'
import { conversationFromHash, type Conversation } from '../views.js'
import { oneOf, optInt, optString } from '../validate.js'
import type { OpDeps } from './deps.js'
import type { Op } from './types.js'
import type { ConnData } from '../connection.js'

const STATUSES = ['open', 'pending', 'snoozed', 'resolved'] as const
const SCAN_PER_INBOX = 1000
/** archive pages fetched at most per request when rows the archive returns turn out to be live */
const ARCHIVE_ROUNDS = 3

/** A place in the list's order: lastActivityAt descending, then id descending (code points). */
type Position = { score: number; id: string }

/** true when a comes before b in the list */
function before(a: Position, b: Position): boolean {
  return a.score > b.score || (a.score === b.score && a.id > b.id)
}

/** cursor = "<lastActivityAt>:<conversationId>" of the last row returned; rows strictly after it. */
function parseCursor(raw: string | undefined): Position | null {
  if (raw === undefined || raw === '') return null
  const m = /^(\d{1,16}):(cv_[A-Za-z0-9_-]{22})$/.exec(raw)
  if (m === null) throw new AppError('bad_request', '`cursor` is not one this server returned')
  return { score: Number(m[1]), id: m[2] as string }
}

type Filter = { status: string; assignee: string; me: string }

function assigneeOf(f: Filter): string | null {
  return f.assignee === 'all' ? null : f.assignee === 'unassigned' ? '' : f.assignee === 'me' ? f.me : f.assignee
}

function passes(conv: Conversation | null, accountId: string, f: Filter): conv is Conversation {
  if (conv === null || conv.accountId !== accountId || conv.status !== f.status) return false
  const want = assigneeOf(f)
  const a = (conv['assigneeId'] as string | null | undefined) ?? null
  return want === null || (want === '' ? a === null : a === want)
}

type Page = { rows: (Position & { conv: Conversation })[]; frontier: Position | null }

/** Up to `limit` live conversations after the cursor; frontier = where to go on (null: no more). */
async function livePage(deps: OpDeps, conn: ConnData, inboxes: string[], f: Filter, cursor: Position | null, limit: number): Promise<Page & { seen: string[] }> {
  const k = deps.reader.keysOf(conn.accountId)
  const max = cursor === null ? '+inf' : String(cursor.score)
  const candidates: Position[] = []
  const pipe = deps.redis.pipeline()
  for (const id of inboxes) pipe.zrevrangebyscore(k.inboxStatusList(id, f.status), max, '-inf', 'WITHSCORES', 'LIMIT', 0, SCAN_PER_INBOX)
  for (const [, rows] of (await pipe.exec()) ?? []) {
    const flat = rows as string[]
    for (let i = 0; i + 1 < flat.length; i += 2) candidates.push({ id: flat[i] as string, score: Number(flat[i + 1]) })
  }
  candidates.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0))
  const after = cursor === null ? candidates : candidates.filter((c) => before(cursor, c))
  const rows: Page['rows'] = []
  let last = -1
  for (let i = 0; i < after.length && rows.length < limit; i += limit) {
    const chunk = after.slice(i, i + limit)
    const read = deps.redis.pipeline()
    for (const c of chunk) read.hgetall(k.conversation(c.id))
    const hashes = (await read.exec()) ?? []
    for (let j = 0; j < chunk.length && rows.length < limit; j++) {
      const conv = conversationFromHash((hashes[j]?.[1] ?? {}) as Record<string, string>)
      last = i + j
      if (passes(conv, conn.accountId, f)) rows.push({ ...(chunk[j] as Position), conv })
    }
  }
  return { rows, frontier: last < after.length - 1 ? (after[last] ?? null) : null, seen: candidates.map((c) => c.id) }
}

/** Up to `limit` archived conversations after the cursor that Redis does not hold. */
async function archivedPage(deps: OpDeps, conn: ConnData, inboxes: string[], f: Filter, cursor: Position | null, limit: number, live: string[]): Promise<Page> {
  const sql = deps.reader.archive
  if (sql === null) return { rows: [], frontier: null }
  const k = deps.reader.keysOf(conn.accountId)
  const rows: Page['rows'] = []
  let at = cursor
  for (let round = 0; round < ARCHIVE_ROUNDS; round++) {
    const want = limit - rows.length
    const found = await archivedConversationPage(sql, {
      accountId: conn.accountId, inboxIds: inboxes, status: f.status, assigneeId: assigneeOf(f), after: at, exclude: live, limit: want,
    })
    // a row the archive lags on (its conversation is live in Redis, maybe reopened): Redis answers for it
    const check = deps.redis.pipeline()
    for (const r of found) check.exists(k.conversation(r.id))
    const held = (await check.exec()) ?? []
    found.forEach((r, i) => {
      if (Number(held[i]?.[1] ?? 0) === 0) rows.push({ score: r.last_activity_at.getTime(), id: r.id, conv: conversationFromRow(r) })
    })
    const tail = found[found.length - 1]
    if (found.length < want || tail === undefined) return { rows, frontier: null }
    at = { score: tail.last_activity_at.getTime(), id: tail.id }
    if (rows.length >= limit) break
  }
  return { rows, frontier: at }
}

export const conversationList: Op<OpDeps> = {
  roles: ['agent'],
  readOnly: true,
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'agent') throw new AppError('forbidden', 'agents only')
    const me = conn.principal.agent.id
    const status = oneOf(frame, 'status', STATUSES) ?? 'open'
    const assignee = optString(frame, 'assignee', 64) ?? 'all'
    if (!['me', 'unassigned', 'all'].includes(assignee) && !isId(assignee, 'ag')) throw new AppError('bad_request', '`assignee` must be me, unassigned, all or an agent id')
    const limit = optInt(frame, 'limit', 1, 100) ?? 25
    const cursor = parseCursor(optString(frame, 'cursor', 64))
    const visible = deps.reader.agentInboxes(conn) ?? (await deps.reader.accountInboxIds(conn.accountId))
    let inboxes = visible
    const inboxId = frame['inboxId']
    if (inboxId !== undefined) {
      if (typeof inboxId !== 'string') throw new AppError('bad_request', '`inboxId` must be an inbox id')
      if (!visible.includes(inboxId)) {
        const inbox = isId(inboxId, 'in') ? await deps.directory.getInbox(conn.accountId, inboxId) : null
        throw inbox === null ? new AppError('not_found', 'no such inbox') : new AppError('forbidden', 'you are not a member of this inbox')
      }
      inboxes = [inboxId]
    }
    const f: Filter = { status, assignee, me }
    const live = await livePage(deps, conn, inboxes, f, cursor, limit)
    // only resolved conversations are ever evicted: every other list is whole in Redis
    let cold: Page = { rows: [], frontier: null }
    let archiveUnavailable = false
    if (status === 'resolved') {
      try {
        cold = await archivedPage(deps, conn, inboxes, f, cursor, limit, live.seen)
      } catch {
        // PostgreSQL unreachable: the live part still answers, flagged as partial (as history does)
        archiveUnavailable = true
      }
    }
    const merged = [...live.rows, ...cold.rows].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0))
    const page = merged.slice(0, limit)
    let next: Position | null
    if (merged.length > limit) next = page[page.length - 1] ?? null
    else {
      // everything both sources returned is on this page: go on from the source that stopped first
      const fronts = [live.frontier, cold.frontier].filter((p): p is Position => p !== null)
      next = fronts.reduce<Position | null>((a, p) => (a === null || before(p, a) ? p : a), null)
    }
    const out = { conversations: page.map((r) => r.conv), cursor: next === null ? null : `${next.score}:${next.id}` }
    return archiveUnavailable ? { ...out, archiveUnavailable } : out
  },
}
