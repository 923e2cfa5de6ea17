// GET /api/v1/accounts/:accountId/search?q=…[&inboxId][&status][&cursor][&limit]: the admin token
// searches every inbox of the account; an agent's own bearer token searches what that agent may see
// (its inboxes; an administrator agent every inbox), the same rule as the WebSocket op `search`.
import type { TemplatedApp } from 'uWebSockets.js'
import type { Directory } from '../directory/index.js'
import { AppError } from '../errors.js'
import { safeEqual } from '../ids.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { bearer, jsonRoute } from '../http/admin.js'
import type { Search } from './search.js'

const MAX_QUERY_STRING = 2048

export function registerSearchRoutes(app: TemplatedApp, deps: { search: Search; directory: Directory; adminToken: string; log: Logger; metrics: Metrics }): void {
  jsonRoute(app, deps, 'get', '/api/v1/accounts/:accountId/search', 1, async ({ params, authorization, query }) => {
    const token = bearer(authorization)
    if (token === '') throw new AppError('unauthorized', 'a bearer token is required (admin or agent)')
    const accountId = params[0] ?? ''
    let inboxIds: string[] | null
    if (safeEqual(token, deps.adminToken)) {
      if ((await deps.directory.getAccount(accountId)) === null) throw new AppError('not_found', 'no such account')
      inboxIds = null
    } else {
      const agent = await deps.directory.findAgentByToken(token)
      if (agent === null) throw new AppError('unauthorized', 'a valid admin or agent bearer token is required')
      if (agent.accountId !== accountId) throw new AppError('not_found', 'no such account')
      inboxIds = agent.role === 'administrator' ? null : agent.inboxIds
    }
    if (query.length > MAX_QUERY_STRING) throw new AppError('bad_request', `the query string is over ${MAX_QUERY_STRING} characters`)
    const p = new URLSearchParams(query)
    return deps.search.search({
      accountId, inboxIds, q: p.get('q'), inboxId: p.get('inboxId') || null, status: p.get('status') || null,
      cursor: p.get('cursor') || null, limit: p.get('limit') || undefined,
    })
  })
}
