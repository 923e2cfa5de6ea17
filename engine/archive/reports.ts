// GET /api/v1/accounts/:accountId/reports/summary?since&until[&inboxId][&agentId], from PostgreSQL.
// Everything is scoped to the account's conversations created in [since, until) (ms), narrowed to
// one inbox and/or one assignee; with agentId the reporting events and CSAT answers are also
// narrowed to that agent (agent_id: the replying agent for first responses, the assignee
// otherwise). Computed in SQL: counts, avg, percentile_cont(0.9); null where nothing to average.
//   conversations  by current status
//   messages       incoming (from the contact) and outgoing (agent replies, private notes excluded)
//   firstResponseMs  first_response events (ms)       resolutionMs  conversation_resolved events (ms)
//   csat           CSAT answers (score 1..5)
import type { Sql } from 'postgres'
import { AppError } from '../errors.js'

export type SummaryQuery = {
  accountId: string
  since: number
  until: number
  inboxId?: string | undefined
  agentId?: string | undefined
}

export type Summary = {
  summary: {
    conversations: { open: number; pending: number; snoozed: number; resolved: number }
    messages: { incoming: number; outgoing: number }
    firstResponseMs: { count: number; mean: number | null; p90: number | null }
    resolutionMs: { count: number; mean: number | null }
    csat: { count: number; mean: number | null }
  }
}

type Row = {
  open: number; pending: number; snoozed: number; resolved: number; incoming: number; outgoing: number
  fr_count: number; fr_mean: number | null; fr_p90: number | null; rs_count: number; rs_mean: number | null
  csat_count: number; csat_mean: number | null
}

const MAX_MS = 8.64e15; // the largest Date

export async function reportSummary(sql: Sql, q: SummaryQuery): Promise<Summary> {
  if (!Number.isSafeInteger(q.since) || !Number.isSafeInteger(q.until) || Math.abs(q.since) > MAX_MS || Math.abs(q.until) > MAX_MS) {
    throw new RangeError('since and until must be integer ms times')
  }
  const inbox = q.inboxId === undefined ? sql`` : sql`and c.inbox_id = ${q.inboxId}`
  const assignee = q.agentId === undefined ? sql`` : sql`and c.assignee_id = ${q.agentId}`
  const eventAgent = q.agentId === undefined ? sql`` : sql`and r.agent_id = ${q.agentId}`
  const csatAgent = q.agentId === undefined ? sql`` : sql`and s.agent_id = ${q.agentId}`
  const [row] = await sql<Row[]>`
    with conv as (
      select c.id, c.status
        from conversations c
       where c.account_id = ${q.accountId}
         and c.created_at >= ${new Date(q.since)} and c.created_at < ${new Date(q.until)}
         ${inbox} ${assignee}
    ),
    counts as (
      select count(*) filter (where status = 'open')::int     as open,
             count(*) filter (where status = 'pending')::int  as pending,
             count(*) filter (where status = 'snoozed')::int  as snoozed,
             count(*) filter (where status = 'resolved')::int as resolved
        from conv
    ),
    msgs as (
      select count(*) filter (where m.type = 'incoming')::int                    as incoming,
             count(*) filter (where m.type = 'outgoing' and not m.private)::int  as outgoing
        from messages m join conv on conv.id = m.conversation_id
       where m.account_id = ${q.accountId}
    ),
    first_response as (
      select count(*)::int as fr_count, avg(r.value)::float8 as fr_mean,
             (percentile_cont(0.9) within group (order by r.value))::float8 as fr_p90
        from reporting_events r join conv on conv.id = r.conversation_id
       where r.account_id = ${q.accountId} and r.name = 'first_response' ${eventAgent}
    ),
    resolution as (
      select count(*)::int as rs_count, avg(r.value)::float8 as rs_mean
        from reporting_events r join conv on conv.id = r.conversation_id
       where r.account_id = ${q.accountId} and r.name = 'conversation_resolved' ${eventAgent}
    ),
    csat as (
      select count(*)::int as csat_count, avg(s.score)::float8 as csat_mean
        from csat_responses s join conv on conv.id = s.conversation_id
       where s.account_id = ${q.accountId} ${csatAgent}
    )
    select * from counts, msgs, first_response, resolution, csat`
  if (row === undefined) throw new Error('report query returned no row')
  return {
    summary: {
      conversations: { open: row.open, pending: row.pending, snoozed: row.snoozed, resolved: row.resolved },
      messages: { incoming: row.incoming, outgoing: row.outgoing },
      firstResponseMs: { count: row.fr_count, mean: row.fr_mean, p90: row.fr_p90 },
      resolutionMs: { count: row.rs_count, mean: row.rs_mean },
      csat: { count: row.csat_count, mean: row.csat_mean },
    },
  }
}

/**
 * Parses the summary's query string (`since`, `until` required, integer ms, since < until;
 * `inboxId`, `agentId` optional). Throws AppError('bad_request').
 */
export function parseSummaryQuery(accountId: string, query: string): SummaryQuery {
  const params = new URLSearchParams(query)
  const time = (name: string): number => {
    const raw = params.get(name)
    if (raw === null || !/^-?\d{1,16}$/.test(raw.trim())) throw new AppError('bad_request', `\`${name}\` must be a time in ms`)
    const n = Number(raw.trim())
    if (!Number.isSafeInteger(n) || Math.abs(n) > MAX_MS) throw new AppError('bad_request', `\`${name}\` must be a time in ms`)
    return n
  }
  const id = (name: string): string | undefined => {
    const raw = params.get(name)
    if (raw === null || raw === '') return undefined
    if (raw.length > 100) throw new AppError('bad_request', `\`${name}\` is too long`)
    return raw
  }
  const since = time('since')
  const until = time('until')
  if (since >= until) throw new AppError('bad_request', '`since` must be before `until`')
  return { accountId, since, until, inboxId: id('inboxId'), agentId: id('agentId') }
}
