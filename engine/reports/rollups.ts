// Reports from report_rollups (migration 00004; the archiver keeps them): per UTC hour, dimension
// (the account, an inbox, an agent) and value slot, the count and the value sum. A report reads them
// instead of the rows when
//   * its range starts and ends on whole UTC hours, and a timeseries' zone is a whole number of hours
//     from UTC at both ends of the range (its hours and days are then whole UTC hours);
//   * it filters by at most one of inbox and agent (a per-agent table: no inbox filter; per inbox: no
//     agent filter), and never for conversations by agent (the current assignee, which changes after
//     the rollup counted it: those come from the rows);
//   * for the three times, more than EXACT_LIMIT values are in range: then count and mean are exact
//     and p50/p90 are histogram estimates (±15 %, marked `approximate: true`); below it the rows give
//     exact percentiles at little cost.
import type { PendingQuery, Row, Sql } from 'postgres'
import type { Filters, Metric } from './params.js'
import { figures, KIND } from './sources.js'

const HOUR = 3_600_000
export const EXACT_LIMIT = 20_000

/** the rollup metric a report metric reads */
const ROLLUP: Record<Metric, string> = {
  conversations: 'conversations', incoming_messages: 'incoming_messages', outgoing_messages: 'outgoing_messages',
  first_response_time: 'first_response', resolution_time: 'conversation_resolved', resolutions: 'conversation_resolved',
  waiting_time: 'reply_time', csat: 'csat',
}

type Fragment = PendingQuery<Row[]>
/** one (group, slot) of rollup sums */
export type SlotRow = { grp: string; slot: number; n: string; total: number }
export type By = 'agent' | 'inbox' | null

function metricName(metric: Metric, f: Filters): string {
  return KIND[metric] === 'duration' && f.businessHours ? `${ROLLUP[metric]}:bh` : ROLLUP[metric]
}

/** The rollup rows of a report: its dimension and key (or every key of the grouped dimension). */
function where(sql: Sql, metric: Metric, f: Filters, by: By): Fragment {
  const dim = by ?? (f.agentId !== null ? 'agent' : f.inboxId !== null ? 'inbox' : 'all')
  const key = by !== null ? sql`` : sql`and r.key = ${f.agentId ?? f.inboxId ?? ''}`
  return sql`r.account_id = ${f.accountId} and r.metric = ${metricName(metric, f)} and r.dim = ${dim} ${key}
    and r.bucket >= ${new Date(f.since)} and r.bucket < ${new Date(f.until)}`
}

/** Is `tz` a whole number of hours from UTC at `at`? */
function wholeHours(tz: string, at: number): boolean {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(new Date(at))
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? ''
  return name === 'GMT' || /^GMT[+-]\d{2}:00$/.test(name)
}

/** May this report read the rollups (see the header)? */
export async function useRollups(sql: Sql, metric: Metric, f: Filters, by: By = null, timezone: string | null = null): Promise<boolean> {
  if (f.since % HOUR !== 0 || f.until % HOUR !== 0) return false
  if (timezone !== null && !(wholeHours(timezone, f.since) && wholeHours(timezone, f.until - 1))) return false
  if (f.inboxId !== null && f.agentId !== null) return false
  if ((by === 'agent' && f.inboxId !== null) || (by === 'inbox' && f.agentId !== null)) return false
  if (metric === 'conversations' && (by === 'agent' || f.agentId !== null)) return false
  if (KIND[metric] !== 'duration') return true
  const [row] = await sql<{ n: string | null }[]>`select sum(r.n) as n from report_rollups r where ${where(sql, metric, f, by)}`
  return Number(row?.n ?? 0) > EXACT_LIMIT
}

/** `select <group>, slot, n, total` over the report's rollup rows; `group` is a bucket or the key. */
export function rollupSlots(sql: Sql, metric: Metric, f: Filters, by: By, group: Fragment): Fragment {
  return sql`select ${group} as grp, r.slot, sum(r.n) as n, sum(r.total) as total
    from report_rollups r where ${where(sql, metric, f, by)} group by 1, 2`
}

/** The value at quantile p of a histogram (slot 1: [0, 1 s), slot s: [1.3^(s-2), 1.3^(s-1)) s), geometric inside a slot. */
export function histQuantile(hist: ReadonlyMap<number, number>, p: number): number | null {
  const slots = [...hist.keys()].sort((a, b) => a - b)
  const n = slots.reduce((a, s) => a + (hist.get(s) ?? 0), 0)
  if (n === 0) return null
  const rank = p * (n - 1) + 1
  let seen = 0
  for (const s of slots) {
    const c = hist.get(s) ?? 0
    if (seen + c < rank) { seen += c; continue }
    const frac = c === 1 ? 0.5 : (rank - seen - 1) / (c - 1)
    if (s <= 1) return 1000 * frac
    return 1000 * 1.3 ** (s - 2 + frac)
  }
  return null
}

/** Figures per group from slot rows. */
export function rollupFigures(metric: Metric, rows: readonly SlotRow[]): Map<string, ReturnType<typeof figures> & { approximate?: true }> {
  const groups = new Map<string, { count: number; total: number; hist: Map<number, number> }>()
  for (const r of rows) {
    let g = groups.get(r.grp)
    if (g === undefined) groups.set(r.grp, (g = { count: 0, total: 0, hist: new Map() }))
    const n = Number(r.n)
    g.count += n
    g.total += r.total
    g.hist.set(r.slot, (g.hist.get(r.slot) ?? 0) + n)
  }
  const kind = KIND[metric]
  const out = new Map<string, ReturnType<typeof figures> & { approximate?: true }>()
  for (const [grp, g] of groups) {
    const mean = g.count === 0 ? null : g.total / g.count
    if (kind === 'count') out.set(grp, { count: g.count })
    else if (kind === 'csat') {
      const s = (i: number) => g.hist.get(i) ?? 0
      out.set(grp, figures('csat', { count: g.count, mean, s1: s(1), s2: s(2), s3: s(3), s4: s(4), s5: s(5) }))
    } else out.set(grp, { count: g.count, mean, p50: histQuantile(g.hist, 0.5), p90: histQuantile(g.hist, 0.9), approximate: true })
  }
  return out
}
