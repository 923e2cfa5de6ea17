// Reports from the rollups the archiver keeps (migrations 00004, 00006, 00007): per UTC hour
// (report_rollups), per UTC day (report_rollups_daily) and per UTC month (report_rollups_monthly),
// dimension (the account, an inbox, an agent) and value slot, the count and the value sum. A report
// reads them instead of the rows when
//   * its range starts and ends on whole UTC hours, and a timeseries' zone is a whole number of hours
//     from UTC at both ends of the range (its hours and days are then whole UTC hours);
//   * it filters by at most one of inbox and agent (a per-agent table: no inbox filter; per inbox: no
//     agent filter); conversations by agent count the current assignee, whose rows the archiver
//     moves from the old assignee to the new one when it changes (migration 00008);
//   * for the three times, more than EXACT_LIMIT values are in range: then count and mean are exact
//     and p50/p90 are histogram estimates (±15 %, marked `approximate: true`); below it the rows give
//     exact percentiles at little cost.
// Which rows (splitRange): a UTC month is read from its monthly row, and of the rest a UTC day from
// its daily row, when it lies wholly inside [since, until) and wholly inside one output bucket, i.e.
// no bucket starts strictly inside it (tables have one bucket; a timeseries passes its bucket
// starts, made by PostgreSQL in the report's zone). A day a boundary cuts (the local midnight of a
// non-UTC day, week or month) is still read from its daily row, counted in the bucket of its
// longest part, when that part is ≥ 13 h: the hours of its other parts are subtracted there (minus
// rows) and added to their own buckets, so a Berlin day is 1 daily and 2–4 hourly row-sets, not 24.
// The rest of the range (partial days at the edges, days cut into short parts: every day by hour)
// is read from the hourly rows. All three hold the same events summed differently (sums, counts and
// histogram slots subtract exactly), so the figures are the same either way, in any zone and across DST.
import type { PendingQuery, Row, Sql } from 'postgres'
import type { Filters, Metric } from './params.js'
import { figures, KIND } from './sources.js'

const HOUR = 3_600_000
const DAY = 86_400_000
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
/** [from, to) in ms */
export type Interval = readonly [number, number]
/** a cut day's daily row, counted in the output bucket holding `at` (not its own start) */
export type Shifted = { day: number; at: number }
/** hourly rows subtracted from the bucket holding `at` (the part of a cut day its daily row counted there) */
export type Minus = { iv: Interval; at: number }
/**
 * The parts of a range read from hourly, daily and monthly rows (together: the whole range, each
 * hour once, after the minus rows take back what a cut day's daily row counted in the wrong bucket).
 */
export type Plan = { hourly: Interval[]; daily: Interval[]; monthly: Interval[]; shifted: Shifted[]; minus: Minus[] }
/**
 * How reports read rollups: tests turn the daily rows off (the monthly ones with them unless told)
 * and the exact-percentile limit down.
 */
export type RollupOptions = { daily?: boolean; monthly?: boolean; exactLimit?: number }

function metricName(metric: Metric, f: Filters): string {
  return KIND[metric] === 'duration' && f.businessHours ? `${ROLLUP[metric]}:bh` : ROLLUP[metric]
}

/** Is `tz` a whole number of hours from UTC at `at`? */
function wholeHours(tz: string, at: number): boolean {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(new Date(at))
  const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? ''
  return name === 'GMT' || /^GMT[+-]\d{2}:00$/.test(name)
}

/** May this report read the rollups (see the header; the time values' count is checked on the rollups read)? */
export function rollupsServe(metric: Metric, f: Filters, by: By = null, timezone: string | null = null): boolean {
  if (f.since % HOUR !== 0 || f.until % HOUR !== 0) return false
  if (timezone !== null && !(wholeHours(timezone, f.since) && wholeHours(timezone, f.until - 1))) return false
  if (f.inboxId !== null && f.agentId !== null) return false
  if ((by === 'agent' && f.inboxId !== null) || (by === 'inbox' && f.agentId !== null)) return false
  return true
}

/**
 * Splits [since, until) (whole UTC hours) into the UTC months read from monthly rows, the UTC days
 * read from daily rows and the rest, read hourly: a month or day is taken whole when it lies inside
 * the range and no boundary (a bucket start) is strictly inside it. A day a boundary cuts is still
 * read from its daily row when one part of it (its longest, ≥ 13 h) takes it, less the hours of the
 * other parts (each also read hourly for its own bucket): 1 daily row-set and 2 × (24 − longest)
 * hourly ones instead of 24 hourly. Days: loops over the boundaries, never over the days (a table
 * may span centuries); months: over the months of the range, with one pass over the sorted boundaries.
 */
export function splitRange(since: number, until: number, boundaries: readonly number[], daily = true, monthly = daily): Plan {
  const months = monthly ? wholeMonths(since, until, boundaries) : []
  const plan: Plan = { hourly: [], daily: [], monthly: months, shifted: [], minus: [] }
  let at = since
  for (const [a, b] of [...months, [until, until] as const]) {
    if (a > at) {
      const part = splitDays(at, a, boundaries, daily)
      plan.hourly.push(...part.hourly)
      plan.daily.push(...part.daily)
      plan.shifted.push(...part.shifted)
      plan.minus.push(...part.minus)
    }
    at = b
  }
  return plan
}

/** The start of the UTC month holding `t` (floor), or of the first month starting at or after it (ceil). */
function monthStart(t: number, up: boolean): number {
  const d = new Date(t)
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
  return up && start < t ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) : start
}

/**
 * The UTC months inside [since, until) that no boundary cuts, contiguous ones joined: between two
 * consecutive boundaries every month lies whole or not at all, so one step per boundary.
 */
function wholeMonths(since: number, until: number, boundaries: readonly number[]): Interval[] {
  const points = [since, ...[...new Set(boundaries)].filter((b) => b > since && b < until).sort((a, b) => a - b), until]
  const out: Interval[] = []
  for (let i = 1; i < points.length; i++) {
    const a = monthStart(points[i - 1] as number, true)
    const b = monthStart(points[i] as number, false)
    if (a < b) out.push([a, b])
  }
  return joined(out)
}

/** Sorted intervals with the touching ones joined. */
function joined(ivs: readonly Interval[]): Interval[] {
  const out: [number, number][] = []
  for (const [a, b] of [...ivs].sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === a) last[1] = b
    else out.push([a, b])
  }
  return out
}

/** a cut day is read from its daily row when its longest part is at least this long */
const SIGNED_MIN = 13 * HOUR

/** [since, until) into the days read from daily rows (whole, or cut and corrected) and the rest (hourly). */
function splitDays(since: number, until: number, boundaries: readonly number[], daily: boolean): Omit<Plan, 'monthly'> {
  const first = Math.ceil(since / DAY) * DAY
  const end = Math.floor(until / DAY) * DAY
  if (!daily || first >= end) return { hourly: [[since, until]], daily: [], shifted: [], minus: [] }
  // the boundaries strictly inside each cut day (a boundary at 00:00 UTC cuts none)
  const inside = new Map<number, number[]>()
  for (const b of [...new Set(boundaries)].sort((x, y) => x - y)) {
    if (b % DAY === 0 || b <= first || b >= end) continue
    const d = Math.floor(b / DAY) * DAY
    const list = inside.get(d)
    if (list === undefined) inside.set(d, [b])
    else list.push(b)
  }
  const cut = [...inside.keys()].sort((a, b) => a - b)
  const own: Interval[] = [] // days read from their daily row, counted at their own bucket
  let from = first
  for (const d of [...cut, end]) {
    if (d > from) own.push([from, d])
    from = d + DAY
  }
  const shifted: Shifted[] = []
  const minus: Minus[] = []
  for (const d of cut) {
    const points = [d, ...(inside.get(d) ?? []), d + DAY]
    const parts = points.slice(1).map((b, i): Interval => [points[i] as number, b])
    const longest = parts.reduce((best, p) => (p[1] - p[0] > best[1] - best[0] ? p : best))
    if (longest[1] - longest[0] < SIGNED_MIN) continue // read hourly, below
    const at = longest[0]
    if (at === d) own.push([d, d + DAY])
    else shifted.push({ day: d, at })
    for (const iv of parts) if (iv !== longest) minus.push({ iv, at })
  }
  // hourly: what no daily row covers, and the parts the minus rows take back (each counted in its own bucket)
  const hourly: Interval[] = minus.map((m) => m.iv)
  let at = since
  for (const [a, b] of joined([...own, ...shifted.map((x): Interval => [x.day, x.day + DAY])])) {
    if (a > at) hourly.push([at, a])
    at = b
  }
  if (until > at) hourly.push([at, until])
  return { hourly: joined(hourly), daily: joined(own), shifted, minus }
}

/** `bucket, key, slot, n, total` of the report's rollup rows in `table` over the intervals. */
type RollupTable = 'report_rollups' | 'report_rollups_daily' | 'report_rollups_monthly'
/** a daily read spans the days between its intervals, left out one by one, up to this many */
const MAX_GAP_DAYS = 62

/** the report's rows of a rollup table (`r`): its account, metric, dimension and key */
function keyRows(sql: Sql, metric: Metric, f: Filters, by: By): Fragment {
  const dim = by ?? (f.agentId !== null ? 'agent' : f.inboxId !== null ? 'inbox' : 'all')
  const key = by !== null ? sql`` : sql`and r.key = ${f.agentId ?? f.inboxId ?? ''}`
  return sql`r.account_id = ${f.accountId} and r.metric = ${metricName(metric, f)} and r.dim = ${dim} ${key}`
}

function rowsIn(sql: Sql, table: RollupTable, metric: Metric, f: Filters, by: By, ivs: readonly Interval[]): Fragment {
  const first = ivs[0]
  const last = ivs[ivs.length - 1]
  if (first === undefined || last === undefined) return sql`select * from ${sql(table)} r where false`
  const gapDays = table === 'report_rollups_daily' ? (last[1] - first[0] - ivs.reduce((a, iv) => a + iv[1] - iv[0], 0)) / DAY : Infinity
  if (ivs.length === 1 || gapDays <= MAX_GAP_DAYS) {
    // days: one index range, the few days a bucket boundary cuts left out (one daily row per day and slot)
    const gaps: string[] = []
    for (let i = 1; i < ivs.length; i++) {
      for (let d = ivs[i - 1]?.[1] ?? 0; d < (ivs[i]?.[0] ?? 0); d += DAY) gaps.push(new Date(d).toISOString())
    }
    return sql`select r.bucket, r.key, r.slot, r.n, r.total from ${sql(table)} r
      where ${keyRows(sql, metric, f, by)} and r.bucket >= ${new Date(first[0])} and r.bucket < ${new Date(last[1])}
      ${gaps.length === 0 ? sql`` : sql`and r.bucket <> all(${sql.array(gaps)}::timestamptz[])`}`
  }
  // hours (the range's edges and the cut days), months, days around months: an index range scan each
  return perInterval(sql, table, metric, f, by, ivs.map((iv) => iv[0]), ivs.map((iv) => iv[1]), null, 1)
}

/**
 * The report's rows of `table` in each interval [lo, hi), an index range scan each (`offset 0` keeps
 * the planner from flattening the lateral into a join: it then read every row of the key, all of its
 * history, and filtered them against each interval: 2.7 s at full scale). A row keeps its own bucket,
 * or is placed at its interval's `at` (a shifted day, a minus row) and counted with `sign`.
 */
function perInterval(sql: Sql, table: RollupTable, metric: Metric, f: Filters, by: By,
  lo: readonly number[], hi: readonly number[], at: readonly number[] | null, sign: 1 | -1): Fragment {
  const iso = (ts: readonly number[]) => sql.array(ts.map((x) => new Date(x).toISOString()))
  const intervals = at === null
    ? sql`unnest(${iso(lo)}::timestamptz[], ${iso(hi)}::timestamptz[]) as iv(lo, hi)`
    : sql`unnest(${iso(lo)}::timestamptz[], ${iso(hi)}::timestamptz[], ${iso(at)}::timestamptz[]) as iv(lo, hi, at)`
  const bucket = at === null ? sql`r.bucket` : sql`iv.at as bucket`
  const values = sign === 1 ? sql`r.n, r.total` : sql`-r.n as n, -r.total as total`
  return sql`select ${bucket}, r.key, r.slot, ${values}
    from ${intervals}
    cross join lateral (select r.bucket, r.key, r.slot, r.n, r.total from ${sql(table)} r
                         where ${keyRows(sql, metric, f, by)} and r.bucket >= iv.lo and r.bucket < iv.hi offset 0) r`
}

/**
 * `select <group>, slot, n, total` over the report's rollup rows; `group` is a bucket (of r.bucket,
 * the time that places a row in an output bucket) or r.key. Slots summing to 0 (a cut day's hours
 * taken back, an assignee's conversations moved away) are left out, as if never counted.
 */
export function rollupSlots(sql: Sql, metric: Metric, f: Filters, by: By, plan: Plan, group: Fragment): Fragment {
  const parts = ([['report_rollups', plan.hourly], ['report_rollups_daily', plan.daily], ['report_rollups_monthly', plan.monthly]] as const)
    .filter(([, ivs]) => ivs.length > 0).map(([table, ivs]) => rowsIn(sql, table, metric, f, by, ivs))
  if (plan.shifted.length > 0) {
    const days = plan.shifted.map((s) => s.day)
    parts.push(perInterval(sql, 'report_rollups_daily', metric, f, by, days, days.map((d) => d + 1), plan.shifted.map((s) => s.at), 1))
  }
  if (plan.minus.length > 0) {
    parts.push(perInterval(sql, 'report_rollups', metric, f, by, plan.minus.map((m) => m.iv[0]), plan.minus.map((m) => m.iv[1]), plan.minus.map((m) => m.at), -1))
  }
  const from = parts.length === 0 ? rowsIn(sql, 'report_rollups', metric, f, by, []) : parts.reduce((a, b) => sql`${a} union all ${b}`)
  return sql`select ${group} as grp, r.slot, sum(r.n) as n, sum(r.total) as total from (${from}) r group by 1, 2 having sum(r.n) <> 0`
}

/**
 * The report's figures per group from the rollups (the caller checked rollupsServe), or null when a
 * time metric has too few values in range for estimates (then the rows answer, exactly).
 */
export async function fromRollups(
  sql: Sql, metric: Metric, f: Filters, by: By, boundaries: readonly number[], group: Fragment, options: RollupOptions = {},
): Promise<ReturnType<typeof rollupFigures> | null> {
  const plan = splitRange(f.since, f.until, boundaries, options.daily ?? true, options.monthly ?? options.daily ?? true)
  const slots = await sql<SlotRow[]>`${rollupSlots(sql, metric, f, by, plan, group)}`
  if (KIND[metric] === 'duration' && slots.reduce((a, r) => a + Number(r.n), 0) <= (options.exactLimit ?? EXACT_LIMIT)) return null
  return rollupFigures(metric, slots)
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
