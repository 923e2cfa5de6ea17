// Admin HTTP API (PROTOCOL.md "HTTP"): accounts, inboxes, agents. Bearer ADMIN_TOKEN, compared in
// constant time; bad bodies get 400 with a code. Successful creates answer 200 with the object.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { readAutoResolve } from '../auto-resolve.js'
import type { AgentAdmin } from '../directory/agent-admin.js'
import type { Directory } from '../directory/index.js'
import { AppError, toAppError } from '../errors.js'
import { isId, safeEqual } from '../ids.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { oneOf, optBool, optInt, optStringArray, reqString } from '../validate.js'
import type { Sql } from 'postgres'
import { parseSummaryQuery, reportSummary } from '../archive/reports.js'
import { readJsonBody, sendError, sendJson, track } from './respond.js'
import { readBusinessHours, type BusinessHours } from '../reports/business-hours.js'
import { registerReportRoutes } from '../reports/http.js'

const BODY_LIMIT = 64 * 1024

export type RouteRequest = { params: string[]; body: Record<string, unknown>; authorization: string; query: string }
export type RouteHandler = (req: RouteRequest) => Promise<unknown>

/** Registers a JSON route: copies what it needs from the request synchronously, then awaits. */
export function jsonRoute(
  app: TemplatedApp, deps: { log: Logger; metrics: Metrics }, method: 'get' | 'post' | 'patch' | 'del', pattern: string, params: number,
  handler: RouteHandler,
): void {
  app[method](pattern, (res: HttpResponse, req: HttpRequest) => {
    const state = track(res)
    const authorization = req.getHeader('authorization')
    const query = req.getQuery() ?? ''
    const values: string[] = []
    for (let i = 0; i < params; i++) values.push(decodeURIComponent(req.getParameter(i) ?? ''))
    const body = method === 'post' || method === 'patch' ? readJsonBody(res, state, BODY_LIMIT) : Promise.resolve({})
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

/** Wraps a route handler with the admin bearer check (for route files registered beside these). */
export function adminOnly(adminToken: string): (handler: RouteHandler) => RouteHandler {
  return (handler) => async (req) => {
    const token = bearer(req.authorization)
    if (token === '' || !safeEqual(token, adminToken)) throw new AppError('unauthorized', 'a valid admin bearer token is required')
    return handler(req)
  }
}

/** The inbox settings of a create or update body: each undefined when absent. */
function readInboxSettings(body: Record<string, unknown>) {
  const allowedOrigins = optStringArray(body, 'allowedOrigins', 100, 2048)
  for (const origin of allowedOrigins ?? []) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new AppError('bad_request', `\`allowedOrigins\` entry ${JSON.stringify(origin)} is not an origin like https://example.com`)
  }
  return {
    allowedOrigins,
    messagesPerMinute: optInt(body, 'messagesPerMinute', 1, 1_000_000),
    autoAssign: optBool(body, 'autoAssign'),
    autoResolveAfterMs: readAutoResolve(body),
  }
}

/** The agent fields of a create or update body (inboxIds checked against the account): each undefined when absent. */
async function readAgentFields(directory: Directory, accountId: string, body: Record<string, unknown>) {
  const role = oneOf(body, 'role', ['administrator', 'agent'] as const)
  const inboxIds = optStringArray(body, 'inboxIds', 1000)
  for (const inboxId of inboxIds ?? []) {
    const inbox = isId(inboxId, 'in') ? await directory.getInbox(accountId, inboxId) : null
    if (inbox === null) throw new AppError('bad_request', `inbox ${JSON.stringify(inboxId)} is not an inbox of this account`)
  }
  const maxRaw = body['maxConversations']
  const maxConversations = maxRaw === null ? null : optInt(body, 'maxConversations', 1, 1_000_000)
  return { role, inboxIds: inboxIds === undefined ? undefined : [...new Set(inboxIds)], maxConversations }
}

export function registerAdminRoutes(
  app: TemplatedApp, deps: { sql: Sql | null; directory: Directory; adminToken: string; log: Logger; metrics: Metrics; messagesPerMinuteDefault: number
    /** agent updates, removal and token rotation (engine/directory/agent-admin.ts) */
    agents?: AgentAdmin
    /** stores an inbox's auto-resolve window (engine/auto-resolve.ts) */
    setAutoResolve?: (accountId: string, inboxId: string, afterMs: number | null) => Promise<void>
    /** stores an inbox's business hours (engine/reports/business-hours.ts) */
    setBusinessHours?: (accountId: string, inboxId: string, hours: BusinessHours | null) => Promise<void> },
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
    const s = readInboxSettings(body)
    const autoResolveAfterMs = s.autoResolveAfterMs ?? null
    const { inbox, apiToken } = await directory.createInbox(acct.id, {
      name, allowedOrigins: s.allowedOrigins ?? [], messagesPerMinute: s.messagesPerMinute ?? deps.messagesPerMinuteDefault, autoAssign: s.autoAssign ?? true,
    })
    if (autoResolveAfterMs !== null) await deps.setAutoResolve?.(acct.id, inbox.id, autoResolveAfterMs)
    return { inbox: { ...inbox, apiToken, autoResolveAfterMs } }
  }))

  jsonRoute(app, deps, 'patch', '/api/v1/accounts/:accountId/inboxes/:inboxId', 2, admin(async ({ params, body }) => {
    const acct = await account(params[0])
    const name = body['name'] === undefined ? undefined : reqString(body, 'name')
    const { autoResolveAfterMs, ...s } = readInboxSettings(body)
    const businessHours = readBusinessHours(body)
    const patch = Object.fromEntries(Object.entries({ name, ...s }).filter(([, v]) => v !== undefined))
    const updated = isId(params[1], 'in') ? await directory.updateInbox(acct.id, params[1], patch) : null
    if (updated === null) throw new AppError('not_found', 'no such inbox')
    // business hours (engine/reports/business-hours.ts): answered back when given
    if (businessHours !== undefined) await deps.setBusinessHours?.(acct.id, updated.inbox.id, businessHours)
    const hours = businessHours === undefined ? {} : { businessHours }
    if (autoResolveAfterMs === undefined) return { inbox: { ...updated.inbox, ...hours } }
    await deps.setAutoResolve?.(acct.id, updated.inbox.id, autoResolveAfterMs)
    return { inbox: { ...updated.inbox, autoResolveAfterMs, ...hours } }
  }))

  jsonRoute(app, deps, 'post', '/api/v1/accounts/:accountId/agents', 1, admin(async ({ params, body }) => {
    const acct = await account(params[0])
    const name = reqString(body, 'name')
    const f = await readAgentFields(directory, acct.id, body)
    if (f.inboxIds === undefined) throw new AppError('bad_request', '`inboxIds` is required (an array of inbox ids, may be empty)')
    const { agent, token } = await directory.createAgent(acct.id, {
      name, role: f.role ?? 'agent', inboxIds: f.inboxIds, maxConversations: f.maxConversations ?? null,
    })
    return { agent: { ...agent, online: false }, token }
  }))

  const agentAdmin = () => {
    if (deps.agents === undefined) throw new AppError('internal', 'agent administration is not wired')
    return deps.agents
  }
  const agentId = (id: string | undefined): string => {
    if (!isId(id, 'ag')) throw new AppError('not_found', 'no such agent')
    return id
  }

  jsonRoute(app, deps, 'patch', '/api/v1/accounts/:accountId/agents/:agentId', 2, admin(async ({ params, body }) => {
    const acct = await account(params[0])
    const name = body['name'] === undefined ? undefined : reqString(body, 'name')
    const f = await readAgentFields(directory, acct.id, body)
    const patch = Object.fromEntries(Object.entries({ name, ...f }).filter(([, v]) => v !== undefined))
    const { agent, released } = await agentAdmin().update(acct.id, agentId(params[1]), patch)
    return { agent, unassigned: released }
  }))

  jsonRoute(app, deps, 'del', '/api/v1/accounts/:accountId/agents/:agentId', 2, admin(async ({ params }) => {
    const acct = await account(params[0])
    const { released } = await agentAdmin().remove(acct.id, agentId(params[1]))
    return { removed: true, unassigned: released }
  }))

  jsonRoute(app, deps, 'post', '/api/v1/accounts/:accountId/agents/:agentId/token', 2, admin(async ({ params }) => {
    const acct = await account(params[0])
    return { token: await agentAdmin().rotateToken(acct.id, agentId(params[1])) }
  }))

  jsonRoute(app, deps, 'get', '/api/v1/accounts/:accountId/reports/summary', 1, admin(async ({ params, query }) => {
    const acct = await account(params[0])
    if (deps.sql === null) throw new AppError('unavailable', 'reports need PostgreSQL: set DATABASE_URL')
    return reportSummary(deps.sql, parseSummaryQuery(acct.id, query))
  }))

  // timeseries, agents, inboxes, csat (JSON or CSV): engine/reports/http.ts
  registerReportRoutes(app, deps)
}
