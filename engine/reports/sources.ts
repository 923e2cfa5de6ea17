// What each report metric counts, as SQL: the rows (table, account, [since, until), inbox and agent
// filters), their time column (bucketing), their agent and inbox columns (per-agent and per-inbox
// tables) and the aggregate. One place, so timeseries and tables count alike:
//   conversations        conversations created (agent: the assignee)
//   incoming_messages    contact messages (agent: the conversation's assignee when the message came in)
//   outgoing_messages    agent replies, private notes excluded (agent: the sender)
//   first_response_time  first_response events, ms: count, mean, p50, p90 (agent: who replied)
//   resolution_time      conversation_resolved events, ms (agent: the assignee)
//   resolutions          conversation_resolved events, counted
//   waiting_time         reply_time events: how long the contact waited for each reply, ms
//   csat                 CSAT answers: count, mean, distribution of scores 1–5 (agent: the assignee when rated)
// businessHours=true counts the three times inside the inbox's business hours (value_in_business_hours,
// computed by the archiver; an inbox without business hours is always open).
import type { PendingQuery, Row, Sql } from 'postgres'
import type { Filters, Metric } from './params.js'

export type Kind = 'count' | 'duration' | 'csat'
type Fragment = PendingQuery<Row[]>

export type Source = {
  kind: Kind
  /** `from … where …` for the filters */
  from: (needAgent: boolean) => Fragment
  time: Fragment
  agent: Fragment
  inbox: Fragment
  aggregate: Fragment
}

export const KIND: Record<Metric, Kind> = {
  conversations: 'count', incoming_messages: 'count', outgoing_messages: 'count', resolutions: 'count',
  first_response_time: 'duration', resolution_time: 'duration', waiting_time: 'duration', csat: 'csat',
}

const EVENT: Partial<Record<Metric, string>> = {
  first_response_time: 'first_response', resolution_time: 'conversation_resolved', resolutions: 'conversation_resolved', waiting_time: 'reply_time',
}

function aggregate(sql: Sql, kind: Kind, value: Fragment): Fragment {
  if (kind === 'count') return sql`count(*)::int as count`
  if (kind === 'csat') {
    return sql`count(*)::int as count, avg(x.score)::float8 as mean,
      count(*) filter (where x.score = 1)::int as s1, count(*) filter (where x.score = 2)::int as s2,
      count(*) filter (where x.score = 3)::int as s3, count(*) filter (where x.score = 4)::int as s4,
      count(*) filter (where x.score = 5)::int as s5`
  }
  return sql`count(*)::int as count, avg(${value})::float8 as mean,
    (percentile_cont(0.5) within group (order by ${value}))::float8 as p50,
    (percentile_cont(0.9) within group (order by ${value}))::float8 as p90`
}

export function source(sql: Sql, metric: Metric, f: Filters): Source {
  const kind = KIND[metric]
  const range = sql`x.account_id = ${f.accountId} and x.created_at >= ${new Date(f.since)} and x.created_at < ${new Date(f.until)}`
  const inbox = f.inboxId === null ? sql`` : sql`and x.inbox_id = ${f.inboxId}`
  const none = sql``
  switch (metric) {
    case 'conversations':
      return {
        kind, time: sql`x.created_at`, agent: sql`x.assignee_id`, inbox: sql`x.inbox_id`, aggregate: aggregate(sql, kind, none),
        from: () => sql`from conversations x where ${range} ${inbox} ${f.agentId === null ? none : sql`and x.assignee_id = ${f.agentId}`}`,
      }
    case 'incoming_messages':
      return {
        kind, time: sql`x.created_at`, agent: sql`x.assignee_id`, inbox: sql`x.inbox_id`, aggregate: aggregate(sql, kind, none),
        from: () => sql`from messages x where ${range} and x.type = 'incoming' ${inbox} ${f.agentId === null ? none : sql`and x.assignee_id = ${f.agentId}`}`,
      }
    case 'outgoing_messages':
      return {
        kind, time: sql`x.created_at`, agent: sql`x.sender_id`, inbox: sql`x.inbox_id`, aggregate: aggregate(sql, kind, none),
        from: () => sql`from messages x where ${range} and x.type = 'outgoing' and not x.private and x.sender_type = 'agent'
          ${inbox} ${f.agentId === null ? none : sql`and x.sender_id = ${f.agentId}`}`,
      }
    case 'csat':
      return {
        kind, time: sql`x.created_at`, agent: sql`x.agent_id`, inbox: sql`x.inbox_id`, aggregate: aggregate(sql, kind, none),
        from: () => sql`from csat_responses x where ${range} ${inbox} ${f.agentId === null ? none : sql`and x.agent_id = ${f.agentId}`}`,
      }
    default: {
      const value = f.businessHours ? sql`coalesce(x.value_in_business_hours, x.value)` : sql`x.value`
      return {
        kind, time: sql`x.created_at`, agent: sql`x.agent_id`, inbox: sql`x.inbox_id`, aggregate: aggregate(sql, kind, value),
        from: () => sql`from reporting_events x where x.account_id = ${f.accountId} and x.name = ${EVENT[metric] ?? ''}
          and x.created_at >= ${new Date(f.since)} and x.created_at < ${new Date(f.until)}
          ${inbox} ${f.agentId === null ? none : sql`and x.agent_id = ${f.agentId}`}`,
      }
    }
  }
}

type AggRow = { count: number; mean?: number | null; p50?: number | null; p90?: number | null; s1?: number; s2?: number; s3?: number; s4?: number; s5?: number }

/** The figures of one aggregate row (absent row = nothing counted) in the report's camelCase shape. */
export function figures(kind: Kind, r: AggRow | undefined) {
  const count = r?.count ?? 0
  if (kind === 'count') return { count }
  if (kind === 'csat') {
    return { count, mean: r?.mean ?? null, distribution: { 1: r?.s1 ?? 0, 2: r?.s2 ?? 0, 3: r?.s3 ?? 0, 4: r?.s4 ?? 0, 5: r?.s5 ?? 0 } }
  }
  return { count, mean: r?.mean ?? null, p50: r?.p50 ?? null, p90: r?.p90 ?? null }
}
