// GET …/reports/agents and …/reports/inboxes: one row per agent (per inbox) of the account with every
// metric over [since, until), the same definitions as the timeseries (sources.ts). Each metric is one
// grouped query (over the hourly and daily rollups where they serve, engine/reports/rollups.ts); the rows are the
// account's agents (not removed) or inboxes, plus any removed agent that still has figures in the range.
import type { Sql } from 'postgres'
import { figures, KIND, source } from './sources.js'
import { fromRollups, rollupsServe, type RollupOptions } from './rollups.js'
import { METRICS, type Filters, type Metric } from './params.js'

const FIELD: Record<Metric, string> = {
  conversations: 'conversations', incoming_messages: 'incomingMessages', outgoing_messages: 'outgoingMessages',
  first_response_time: 'firstResponseTime', resolution_time: 'resolutionTime', resolutions: 'resolutions',
  waiting_time: 'waitingTime', csat: 'csat',
}

export type TableRow = { id: string; name: string } & Record<string, unknown>

export async function reportTable(sql: Sql, by: 'agent' | 'inbox', f: Filters, options: RollupOptions = {}): Promise<TableRow[]> {
  // per metric: a map entity id -> its figures, from the rollups where they serve (rollups.ts), else the rows
  const grouped = await Promise.all(METRICS.map(async (metric): Promise<Map<string, unknown>> => {
    // one bucket: every whole UTC day in range reads its daily rows
    const rolled = rollupsServe(metric, f, by) ? await fromRollups(sql, metric, f, by, [], sql`r.key`, options) : null
    if (rolled !== null) return rolled
    const s = source(sql, metric, f)
    const key = by === 'agent' ? s.agent : s.inbox
    const rows = await sql<({ key: string | null } & Record<string, number>)[]>`
      select ${key} as key, ${s.aggregate} ${s.from(by === 'agent')} group by 1`
    return new Map(rows.filter((r) => r.key !== null).map((r) => [r.key as string, figures(KIND[metric], r as never)]))
  }))
  const withFigures = [...new Set(grouped.flatMap((m) => [...m.keys()]))]
  const entities = by === 'agent'
    ? await sql<{ id: string; name: string; removed: boolean }[]>`
        select id, name, removed_at is not null as removed from agents
         where account_id = ${f.accountId} and (removed_at is null or id = any(${sql.array(withFigures)}::text[]))
           ${f.agentId === null ? sql`` : sql`and id = ${f.agentId}`}
           ${f.inboxId === null ? sql`` : sql`and (id in (select agent_id from inbox_members where inbox_id = ${f.inboxId}) or id = any(${sql.array(withFigures)}::text[]))`}
         order by name, id`
    : await sql<{ id: string; name: string; removed: boolean }[]>`
        select id, name, false as removed from inboxes
         where account_id = ${f.accountId} and website_token not like '~placeholder:%'
           ${f.inboxId === null ? sql`` : sql`and id = ${f.inboxId}`}
         order by name, id`
  return entities.map((e) => {
    const row: TableRow = { id: e.id, name: e.name, ...(e.removed ? { removed: true } : {}) }
    METRICS.forEach((metric, i) => {
      const fig = (grouped[i]?.get(e.id) ?? figures(KIND[metric], undefined)) as { count: number }
      row[FIELD[metric]] = KIND[metric] === 'count' ? fig.count : fig
    })
    return row
  })
}
