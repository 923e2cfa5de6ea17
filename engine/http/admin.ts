// Admin HTTP API (PROTOCOL.md "HTTP"): accounts, inboxes, agents. Bearer ADMIN_TOKEN, compared in
// constant time; bad bodies get 400 with a code. Successful creates answer 200 with the object.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { readAutoResolve } from '../auto-resolve.js'
import type { Directory } from '../directory.js'
import { AppError, toAppError } from '../errors.js'
import { isId, safeEqual } from '../ids.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { oneOf, optBool, optInt, optStringArray, reqString } from '../validate.js'
import type { Sql } from 'postgres'
import { parseSummaryQuery, reportSummary } from '../archive/reports.js'
import { readJsonBody, sendError, sendJson, track } from './respond.js'

const BODY_LIMIT = 64 * 1024

export type RouteRequest = { params: string[]; body: Record<string, unknown>; authorization: string; query: string }
export type RouteHandler = (req: RouteRequest) => Promise<unknown>

/** Registers a JSON route: copies what it needs from the request synchronously, then awaits. */
export function jsonRoute(
  app: TemplatedApp, deps: { log: Logger; metrics: Metrics }, method: 'get' | 'post', pattern: string, params: number,
  handler: RouteHandler,
): void {
  app[method](pattern, (res: HttpResponse, req: HttpRequest) => {
    const state = track(res)
    const authorization = req.getHeader('authorization')
    const query = req.getQuery() ?? ''
    const values: string[] = []
    for (let i = 0; i < params; i++) values.push(decodeURIComponent(req.getParameter(i) ?? ''))
    const body = method === 'post' ? readJsonBody(res, state, BODY_LIMIT) : Promise.resolve({})
    body
      .then((b) => handler({ params: values, body: b, authorization, query }))
      .then((out) => sendJson(res, state, '200 OK', out))
      .catch((err: unknown) => {
        const appErr = toAppError(err)
        if (appErr.code === 'internal') deps.log.error({ err, route: pattern }, 'admin route failed')
        deps.metrics.errors.inc({ code: appErr.code })
        sendError(res, state, appErr)
      })
  })
}

export function bearer(authorization: string): string {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  return m?.[1] ?? ''
}

export function registerAdminRoutes(
  app: TemplatedApp, deps: { sql: Sql | null; directory: Directory; adminToken: string; log: Logger; metrics: Metrics; messagesPerMinuteDefault: number
    /** stores an inbox's auto-resolve window (engine/auto-resolve.ts) */
    setAutoResolve?: (accountId: string, inboxId: string, afterMs: number | null) => Promise<void> },
): void {
  const { directory } = deps
  const admin = (handler: RouteHandler): RouteHandler => async (req) => {
    const token = bearer(req.authorization)
    if (token === '' || !safeEqual(token, deps.adminToken)) throw new AppError('unauthorized', 'a valid admin bearer token is required')
    return handler(req)
  }
  const account = async (id: string | undefined) => {
    const found = isId(id, 'a') ? await directory.getAccount(id) : null
    if (found === null) throw new AppError('not_found', 'no such account')
    return found
  }

  jsonRoute(app, deps, 'post', '/api/v1/accounts', 0, admin(async ({ body }) => {
    return { account: await directory.createAccount(reqString(body, 'name')) }
  }))

  jsonRoute(app, deps, 'post', '/api/v1/accounts/:accountId/inboxes', 1, admin(async ({ params, body }) => {
    const acct = await account(params[0])
    const name = reqString(body, 'name')
    const allowedOrigins = optStringArray(body, 'allowedOrigins', 100, 2048) ?? []
    for (const origin of allowedOrigins) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new AppError('bad_request', `\`allowedOrigins\` entry ${JSON.stringify(origin)} is not an origin like https://example.com`)
    }
    const messagesPerMinute = optInt(body, 'messagesPerMinute', 1, 1_000_000) ?? deps.messagesPerMinuteDefault
    const autoAssign = optBool(body, 'autoAssign') ?? true
    const autoResolveAfterMs = readAutoResolve(body) ?? null
    const { inbox, apiToken } = await directory.createInbox(acct.id, { name, allowedOrigins, messagesPerMinute, autoAssign })
    if (autoResolveAfterMs !== null) await deps.setAutoResolve?.(acct.id, inbox.id, autoResolveAfterMs)
    return { inbox: { ...inbox, apiToken, autoResolveAfterMs } }
  }))

  jsonRoute(app, deps, 'post', '/api/v1/accounts/:accountId/agents', 1, admin(async ({ params, body }) => {
    const acct = await account(params[0])
    const name = reqString(body, 'name')
    const role = oneOf(body, 'role', ['administrator', 'agent'] as const) ?? 'agent'
    const inboxIds = optStringArray(body, 'inboxIds', 1000)
    if (inboxIds === undefined) throw new AppError('bad_request', '`inboxIds` is required (an array of inbox ids, may be empty)')
    for (const inboxId of inboxIds) {
      const inbox = isId(inboxId, 'in') ? await directory.getInbox(acct.id, inboxId) : null
      if (inbox === null) throw new AppError('bad_request', `inbox ${JSON.stringify(inboxId)} is not an inbox of this account`)
    }
    const maxRaw = body['maxConversations']
    const maxConversations = maxRaw === null ? null : (optInt(body, 'maxConversations', 1, 1_000_000) ?? null)
    const { agent, token } = await directory.createAgent(acct.id, { name, role, inboxIds: [...new Set(inboxIds)], maxConversations })
    return { agent: { ...agent, online: false }, token }
  }))

  jsonRoute(app, deps, 'get', '/api/v1/accounts/:accountId/reports/summary', 1, admin(async ({ params, query }) => {
    const acct = await account(params[0])
    if (deps.sql === null) throw new AppError('unavailable', 'reports need PostgreSQL: set DATABASE_URL')
    return reportSummary(deps.sql, parseSummaryQuery(acct.id, query))
  }))
}
