// Query-string parsing for the reports (timeseries, agents, inboxes, csat): every bad value is a 400
// bad_request that names the parameter and says what is expected.
import { AppError } from '../errors.js'
import { readTimezone } from './business-hours.js'

export const METRICS = [
  'conversations', 'incoming_messages', 'outgoing_messages', 'first_response_time', 'resolution_time', 'resolutions',
  'waiting_time', 'csat',
] as const
export type Metric = (typeof METRICS)[number]
export const GROUP_BY = ['hour', 'day', 'week', 'month'] as const
export type GroupBy = (typeof GROUP_BY)[number]

/** the most buckets one timeseries answers (10 years by day fit; 10 years by hour do not) */
export const MAX_BUCKETS = 4000
/** longest query string a report takes */
export const MAX_QUERY_CHARS = 2048
const MAX_MS = 8.64e15

/** What narrows every report: the account, [since, until) in ms, an inbox, an agent. */
export type Filters = {
  accountId: string; since: number; until: number; inboxId: string | null; agentId: string | null; businessHours: boolean
}
export type TimeseriesQuery = Filters & { metric: Metric; groupBy: GroupBy; timezone: string }
export type CsatQuery = Filters & { limit: number; cursor: { at: number; id: string } | null }

/** Rough bucket widths (ms) for the bucket-count bound: shortest month and DST days make them upper bounds. */
const WIDTH: Record<GroupBy, number> = { hour: 3_600_000, day: 82_800_000, week: 7 * 86_400_000 - 3_600_000, month: 28 * 86_400_000 - 3_600_000 }

function paramsOf(query: string): URLSearchParams {
  if (query.length > MAX_QUERY_CHARS) throw new AppError('bad_request', `the query string is over ${MAX_QUERY_CHARS} characters`)
  return new URLSearchParams(query)
}

function one(p: URLSearchParams, name: string): string | null {
  const all = p.getAll(name)
  if (all.length > 1) throw new AppError('bad_request', `\`${name}\` is given more than once`)
  const v = all[0]
  return v === undefined || v === '' ? null : v
}

function time(p: URLSearchParams, name: string): number {
  const raw = one(p, name)
  if (raw === null) throw new AppError('bad_request', `\`${name}\` is required: a time in ms since the epoch`)
  if (!/^-?\d{1,16}$/.test(raw)) throw new AppError('bad_request', `\`${name}\` must be a time in ms since the epoch`)
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || Math.abs(n) > MAX_MS) throw new AppError('bad_request', `\`${name}\` is out of range`)
  return n
}

function id(p: URLSearchParams, name: string, prefix: string): string | null {
  const raw = one(p, name)
  if (raw === null) return null
  if (raw.length > 64 || !raw.startsWith(`${prefix}_`)) throw new AppError('bad_request', `\`${name}\` must be an id like ${prefix}_…`)
  return raw
}

export function parseFilters(accountId: string, p: URLSearchParams): Filters {
  const since = time(p, 'since')
  const until = time(p, 'until')
  if (since >= until) throw new AppError('bad_request', '`since` must be before `until`')
  const bh = one(p, 'businessHours')
  if (bh !== null && bh !== 'true' && bh !== 'false') throw new AppError('bad_request', '`businessHours` must be true or false')
  return { accountId, since, until, inboxId: id(p, 'inboxId', 'in'), agentId: id(p, 'agentId', 'ag'), businessHours: bh === 'true' }
}

export function parseTimeseriesQuery(accountId: string, query: string): TimeseriesQuery {
  const p = paramsOf(query)
  const metric = one(p, 'metric')
  if (metric === null) throw new AppError('bad_request', `\`metric\` is required: one of ${METRICS.join(', ')}`)
  if (!(METRICS as readonly string[]).includes(metric)) throw new AppError('bad_request', `unknown metric ${JSON.stringify(metric.slice(0, 64))}: one of ${METRICS.join(', ')}`)
  const groupBy = one(p, 'groupBy') ?? 'day'
  if (!(GROUP_BY as readonly string[]).includes(groupBy)) throw new AppError('bad_request', `\`groupBy\` must be one of ${GROUP_BY.join(', ')}`)
  const timezone = readTimezone(one(p, 'timezone') ?? 'UTC', 'timezone')
  const f = parseFilters(accountId, p)
  const buckets = Math.ceil((f.until - f.since) / WIDTH[groupBy as GroupBy]) + 1
  if (buckets > MAX_BUCKETS) {
    throw new AppError('bad_request', `the range holds about ${buckets} ${groupBy} buckets, more than ${MAX_BUCKETS}: group by a longer period or ask for a shorter range`)
  }
  return { ...f, metric: metric as Metric, groupBy: groupBy as GroupBy, timezone }
}

export function parseTableQuery(accountId: string, query: string): Filters {
  return parseFilters(accountId, paramsOf(query))
}

export function parseCsatQuery(accountId: string, query: string): CsatQuery {
  const p = paramsOf(query)
  const f = parseFilters(accountId, p)
  const rawLimit = one(p, 'limit')
  const limit = rawLimit === null ? 25 : Number(rawLimit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new AppError('bad_request', '`limit` must be an integer from 1 to 200')
  const rawCursor = one(p, 'cursor')
  let cursor: CsatQuery['cursor'] = null
  if (rawCursor !== null) {
    const m = /^(-?\d{1,16})\|(cv_[A-Za-z0-9_-]{1,40})$/.exec(Buffer.from(rawCursor, 'base64url').toString('utf8'))
    if (m === null) throw new AppError('bad_request', '`cursor` is not a cursor this report returned')
    cursor = { at: Number(m[1]), id: m[2] as string }
  }
  return { ...f, limit, cursor }
}

export function csatCursor(at: number, id: string): string {
  return Buffer.from(`${at}|${id}`, 'utf8').toString('base64url')
}
