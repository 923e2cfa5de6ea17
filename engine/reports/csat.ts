// GET …/reports/csat: the CSAT answers over [since, until) with their comments, newest first, paged
// by an opaque cursor (rated time, conversation id), with the range's count, mean and distribution.
import type { Sql } from 'postgres'
import { csatCursor, type CsatQuery } from './params.js'
import { figures, source } from './sources.js'

type Rating = { conversationId: string; displayId: number | null; inboxId: string; agentId: string | null; contactId: string | null; score: number; comment: string | null; ratedAt: number }

export async function reportCsat(sql: Sql, q: CsatQuery): Promise<{ ratings: Rating[]; cursor: string | null; summary: ReturnType<typeof figures> }> {
  const after = q.cursor === null ? sql`` : sql`and (x.created_at, x.conversation_id) < (${new Date(q.cursor.at)}, ${q.cursor.id})`
  const s = source(sql, 'csat', q)
  const [rows, [summary]] = await Promise.all([
    sql<{ conversation_id: string; display_id: number | null; inbox_id: string; agent_id: string | null; contact_id: string | null; score: number; comment: string | null; created_at: Date }[]>`
      select x.conversation_id, c.display_id, x.inbox_id, x.agent_id, c.contact_id, x.score, x.comment, x.created_at
        from csat_responses x left join conversations c on c.id = x.conversation_id
       where x.account_id = ${q.accountId} and x.created_at >= ${new Date(q.since)} and x.created_at < ${new Date(q.until)}
         ${q.inboxId === null ? sql`` : sql`and x.inbox_id = ${q.inboxId}`} ${q.agentId === null ? sql`` : sql`and x.agent_id = ${q.agentId}`}
         ${after}
       order by x.created_at desc, x.conversation_id desc
       limit ${q.limit + 1}`,
    sql`select ${s.aggregate} ${s.from(false)}`,
  ])
  const page = rows.slice(0, q.limit)
  const last = page.at(-1)
  return {
    ratings: page.map((r) => ({
      conversationId: r.conversation_id, displayId: r.display_id, inboxId: r.inbox_id, agentId: r.agent_id, contactId: r.contact_id,
      score: r.score, comment: r.comment, ratedAt: r.created_at.getTime(),
    })),
    cursor: rows.length > q.limit && last !== undefined ? csatCursor(last.created_at.getTime(), last.conversation_id) : null,
    summary: figures('csat', summary as never),
  }
}
