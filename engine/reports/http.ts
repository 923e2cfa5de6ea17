// The report routes (admin bearer token, like the summary): timeseries, agents, inboxes, csat.
// JSON by default; `Accept: text/csv` answers the rows as CSV (text/csv; charset=utf-8).
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import type { Sql } from 'postgres'
import { AppError, toAppError } from '../errors.js'
import { isId, safeEqual } from '../ids.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { Directory } from '../directory/index.js'
import { sendError, sendJson, track } from '../http/respond.js'
import { reportCsat } from './csat.js'
import { toCsv } from './csv.js'
import { parseCsatQuery, parseTableQuery, parseTimeseriesQuery } from './params.js'
import { reportTable } from './tables.js'
import { reportTimeseries } from './timeseries.js'

type Deps = { sql: Sql | null; directory: Directory; adminToken: string; log: Logger; metrics: Metrics }
type Answer = { json: unknown; rows: readonly Record<string, unknown>[] }

/** PostgreSQL refusing a value (a time zone its tz database does not know, a bad interval) is the caller's error. */
function mapError(err: unknown): AppError {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (code === '22023' || code === '22007' || code === '22008' || code === '22P02')) {
    return new AppError('bad_request', `PostgreSQL refused a parameter: ${(err as Error).message}`)
  }
  return toAppError(err)
}

export function registerReportRoutes(app: TemplatedApp, deps: Deps): void {
  const route = (path: string, handler: (sql: Sql, accountId: string, query: string) => Promise<Answer>) => {
    app.get(`/api/v1/accounts/:accountId/reports/${path}`, (res: HttpResponse, req: HttpRequest) => {
      const state = track(res)
      const authorization = req.getHeader('authorization')
      const csv = /\btext\/csv\b/i.test(req.getHeader('accept'))
      const query = req.getQuery() ?? ''
      const accountId = decodeURIComponent(req.getParameter(0) ?? '')
      const run = async (): Promise<Answer> => {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
        if (m?.[1] === undefined || !safeEqual(m[1], deps.adminToken)) throw new AppError('unauthorized', 'a valid admin bearer token is required')
        if (!isId(accountId, 'a') || (await deps.directory.getAccount(accountId)) === null) throw new AppError('not_found', 'no such account')
        if (deps.sql === null) throw new AppError('unavailable', 'reports need PostgreSQL: set DATABASE_URL')
        return handler(deps.sql, accountId, query)
      }
      run().then((out) => {
        if (!csv) return sendJson(res, state, '200 OK', out.json)
        if (state.aborted) return
        res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'text/csv; charset=utf-8').end(toCsv(out.rows)))
      }, (err: unknown) => {
        const appErr = mapError(err)
        if (appErr.code === 'internal') deps.log.error({ err, route: path }, 'report failed')
        deps.metrics.errors.inc({ code: appErr.code })
        sendError(res, state, appErr)
      })
    })
  }

  route('timeseries', async (sql, accountId, query) => {
    const out = await reportTimeseries(sql, parseTimeseriesQuery(accountId, query))
    return { json: out, rows: out.timeseries }
  })
  route('agents', async (sql, accountId, query) => {
    const agents = await reportTable(sql, 'agent', parseTableQuery(accountId, query))
    return { json: { agents }, rows: agents }
  })
  route('inboxes', async (sql, accountId, query) => {
    const inboxes = await reportTable(sql, 'inbox', parseTableQuery(accountId, query))
    return { json: { inboxes }, rows: inboxes }
  })
  route('csat', async (sql, accountId, query) => {
    const out = await reportCsat(sql, parseCsatQuery(accountId, query))
    return { json: out, rows: out.ratings }
  })
}
