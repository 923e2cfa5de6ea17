// Reports from report_rollups (migration 00004; the archiver keeps them): per 15-minute UTC bucket,
// inbox and agent, the count, the value sums and a log histogram. A report reads them instead of the
// rows when its range starts and ends on 15-minute boundaries (every zone's hours and days are whole
// 15-minute buckets) and, for the three times, when more than EXACT_LIMIT values are in range: then
// count and mean are exact and p50/p90 are histogram estimates (±15 %, marked `approximate: true`);
// below it the rows give exact percentiles at little cost. Conversations per agent always come
// from the rows (the current assignee, which changes after the rollup was counted).
import type { PendingQuery, Row, Sql } from 'postgres'
import type { Filters, Metric } from './params.js'
import { figures, KIND } from './sources.js'

const QUARTER = 15 * 60_000
export const EXACT_LIMIT = 20_000

/** the rollup metric a report metric reads */
const ROLLUP: Record<Metric, string> = {
  conversations: 'conversations', incoming_messages: 'incoming_messages', outgoing_messages: 'outgoing_messages',
  first_response_time: 'first_response', resolution_time: 'conversation_resolved', resolutions: 'conversation_resolved',
  waiting_time: 'reply_time', csat: 'csat',
}

type Fragment = PendingQuery<Row[]>
export type RollupRow = { count: string | number; total: number | null; hist: number[] | null }

function where(sql: Sql, metric: Metric, f: Filters): Fragment {
  return sql`r.account_id = ${f.accountId} and r.metric = ${ROLLUP[metric]}
    and r.bucket >= ${new Date(f.since)} and r.bucket < ${new Date(f.until)}
    ${f.inboxId === null ? sql`` : sql`and r.inbox_id = ${f.inboxId}`} ${f.agentId === null ? sql`` : sql`and r.agent_id = ${f.agentId}`}`
}

/** The aggregate columns over rollup rows r. */
export function rollupAggregate(sql: Sql, f: Filters): Fragment {
  return f.businessHours
    ? sql`sum(r.n) as count, sum(r.total_bh) as total, report_hist_sum(r.hist_bh) as hist`
    : sql`sum(r.n) as count, sum(r.total) as total, report_hist_sum(r.hist) as hist`
}

export function rollupFrom(sql: Sql, metric: Metric, f: Filters): Fragment {
  return sql`from report_rollups r where ${where(sql, metric, f)}`
}

/** May this report read the rollups (see the header)? */
export async function useRollups(sql: Sql, metric: Metric, f: Filters, perAgent = false): Promise<boolean> {
  if (f.since % QUARTER !== 0 || f.until % QUARTER !== 0) return false
  if (metric === 'conversations' && (perAgent || f.agentId !== null)) return false
  if (KIND[metric] !== 'duration') return true
  const [row] = await sql<{ n: string | null }[]>`select sum(r.n) as n from report_rollups r where ${where(sql, metric, f)}`
  return Number(row?.n ?? 0) > EXACT_LIMIT
}

/** The value at quantile p of a rollup histogram (64 slots: [0, 1 s), then ×1.3 each), geometric inside a slot. */
export function histQuantile(hist: readonly number[], p: number): number | null {
  const n = hist.reduce((a, b) => a + b, 0)
  if (n === 0) return null
  const rank = p * (n - 1) + 1
  let seen = 0
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i] ?? 0
    if (c === 0 || seen + c < rank) { seen += c; continue }
    const frac = c === 1 ? 0.5 : (rank - seen - 1) / (c - 1)
    if (i === 0) return 1000 * frac
    const lo = 1000 * 1.3 ** (i - 1)
    return lo * 1.3 ** frac
  }
  return null
}

/** Figures of one metric from an aggregated rollup row (undefined = nothing counted). */
export function rollupFigures(metric: Metric, r: RollupRow | undefined) {
  const kind = KIND[metric]
  const count = Number(r?.count ?? 0)
  if (kind === 'count') return { count }
  const mean = count === 0 || r?.total == null ? null : r.total / count
  if (kind === 'csat') {
    const h = r?.hist ?? []
    const s = (i: number) => h[i] ?? 0
    return figures('csat', { count, mean, s1: s(0), s2: s(1), s3: s(2), s4: s(3), s5: s(4) })
  }
  const h = r?.hist ?? []
  return { count, mean, p50: count === 0 ? null : histQuantile(h, 0.5), p90: count === 0 ? null : histQuantile(h, 0.9), approximate: true }
}
