import { AppError } from '../errors.js'
import { isId } from '../ids.js'
import { conversationFromHash, type Conversation } from '../views.js'
import { oneOf, optInt, optString } from '../validate.js'
import type { OpDeps } from './deps.js'
import type { Op } from './types.js'

const STATUSES = ['open', 'pending', 'snoozed', 'resolved'] as const
const SCAN_PER_INBOX = 1000

/** cursor = "<lastActivityAt>:<conversationId>" of the last row returned; rows strictly after it. */
function parseCursor(raw: string | undefined): { score: number; id: string } | null {
  if (raw === undefined || raw === '') return null
  const m = /^(\d{1,16}):(cv_[A-Za-z0-9_-]{22})$/.exec(raw)
  if (m === null) throw new AppError('bad_request', '`cursor` is not one this server returned')
  return { score: Number(m[1]), id: m[2] as string }
}

export const conversationList: Op<OpDeps> = {
  roles: ['agent'],
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
    const k = deps.reader.keysOf(conn.accountId)
    const max = cursor === null ? '+inf' : String(cursor.score)
    const candidates: { id: string; score: number }[] = []
    const pipe = deps.redis.pipeline()
    for (const id of inboxes) pipe.zrevrangebyscore(k.inboxStatusList(id, status), max, '-inf', 'WITHSCORES', 'LIMIT', 0, SCAN_PER_INBOX)
    for (const [, rows] of (await pipe.exec()) ?? []) {
      const flat = rows as string[]
      for (let i = 0; i + 1 < flat.length; i += 2) candidates.push({ id: flat[i] as string, score: Number(flat[i + 1]) })
    }
    candidates.sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    const after = cursor === null ? candidates : candidates.filter((c) => c.score < cursor.score || (c.score === cursor.score && c.id < cursor.id))
    const conversations: Conversation[] = []
    let last: { id: string; score: number } | null = null
    for (let i = 0; i < after.length && conversations.length < limit; i += limit) {
      const chunk = after.slice(i, i + limit)
      const read = deps.redis.pipeline()
      for (const c of chunk) read.hgetall(k.conversation(c.id))
      const rows = (await read.exec()) ?? []
      for (let j = 0; j < chunk.length && conversations.length < limit; j++) {
        const conv = conversationFromHash((rows[j]?.[1] ?? {}) as Record<string, string>)
        last = chunk[j] ?? null
        if (conv === null || conv.accountId !== conn.accountId || conv.status !== status) continue
        const a = conv['assigneeId'] as string | null
        if (assignee === 'me' && a !== me) continue
        if (assignee === 'unassigned' && a !== null) continue
        if (assignee !== 'all' && assignee !== 'me' && assignee !== 'unassigned' && a !== assignee) continue
        conversations.push(conv)
      }
    }
    const exhausted = last === null || after.indexOf(last) === after.length - 1
    return { conversations, cursor: exhausted || last === null ? null : `${last.score}:${last.id}` }
  },
}
