// GET …/reports/timeseries: one metric over time, every bucket present (empty ones count 0, averages
// null). Buckets are periods of the requested IANA time zone, made by PostgreSQL: local days, weeks
// (ISO, from Monday) and months are generated as local timestamps and turned into instants with
// AT TIME ZONE, so a day with a DST change lasts 23 or 25 hours; hours are real hours (date_bin from
// the first local hour), so the repeated hour of a fall-back change is a bucket of its own.
// Aligned ranges read the archiver's hourly and daily rollups instead of the rows (engine/reports/rollups.ts:
// a UTC day only where no bucket of this zone starts inside it).
import type { PendingQuery, Row, Sql } from 'postgres'
import { figures, source } from './sources.js'
import { fromRollups, rollupsServe, type RollupOptions } from './rollups.js'
import type { TimeseriesQuery } from './params.js'

export type Bucket = { start: number; value: number | null } & Record<string, unknown>

export async function reportTimeseries(sql: Sql, q: TimeseriesQuery, options: RollupOptions = {}): Promise<{ timeseries: Bucket[] }> {
  const s = source(sql, q.metric, q)
  const since = new Date(q.since)
  const last = new Date(q.until - 1) // the bucket holding the last ms of the range is the last bucket
  const hour = q.groupBy === 'hour'
  const buckets = hour
    ? sql`select g as start from generate_series(date_trunc('hour', ${since}::timestamptz, ${q.timezone}), ${last}::timestamptz, interval '1 hour') g`
    : sql`select (g at time zone ${q.timezone}) as start
            from generate_series(date_trunc(${q.groupBy}, ${since}::timestamptz, ${q.timezone}) at time zone ${q.timezone},
                                 ${last}::timestamptz at time zone ${q.timezone}, ${`1 ${q.groupBy}`}::interval) g`
  const bucketOf = (col: PendingQuery<Row[]>) => hour
    ? sql`date_bin('1 hour', ${col}, date_trunc('hour', ${since}::timestamptz, ${q.timezone}))`
    : sql`date_trunc(${q.groupBy}, ${col}, ${q.timezone})`
  if (rollupsServe(q.metric, q, null, q.timezone)) {
    const starts = (await sql<{ bucket_ms: string }[]>`
      select (extract(epoch from b.start) * 1000)::bigint as bucket_ms from (${buckets}) b order by b.start`).map((b) => Number(b.bucket_ms))
    const group = sql`((extract(epoch from ${bucketOf(sql`r.bucket`)}) * 1000)::bigint)::text`
    const byBucket = await fromRollups(sql, q.metric, q, null, starts, group, options)
    if (byBucket !== null) {
      return {
        timeseries: starts.map((start) => {
          const f = byBucket.get(String(start)) ?? figures(s.kind, undefined)
          const value = 'mean' in f ? f.mean : f.count
          return { start, value, ...(s.kind === 'count' ? {} : f) }
        }),
      }
    }
  }
  const rows = await sql<({ bucket_ms: string } & Record<string, number | null>)[]>`
    with d as (select ${bucketOf(s.time)} as start, ${s.aggregate} ${s.from(false)} group by 1)
    select (extract(epoch from b.start) * 1000)::bigint as bucket_ms, d.*
      from (${buckets}) b left join d on d.start = b.start
     order by b.start`
  return {
    timeseries: rows.map((r) => {
      const f = figures(s.kind, r.count === null ? undefined : (r as never))
      const value = 'mean' in f ? f.mean : f.count
      return { start: Number(r.bucket_ms), value, ...(s.kind === 'count' ? {} : f) }
    }),
  }
}
