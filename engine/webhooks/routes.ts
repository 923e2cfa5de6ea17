// Admin API of outgoing webhooks (engine/PROTOCOL.md "Administration"): create, list, change,
// delete, rotate the secret, list deliveries, replay one. Definitions live in Redis (store.ts);
// deliveries in the dispatcher's PostgreSQL queue, so those two routes need DATABASE_URL (503
// `unavailable` without it). A URL whose host is, or resolves to, a refused address is refused
// here (400) unless WEBHOOKS_ALLOW_PRIVATE=1; the dispatcher checks again on connect.
import type { TemplatedApp } from 'uWebSockets.js'
import type { Sql } from 'postgres'
import { parseWebhookUrl, refusedDestination } from '../../lua/webhook-address.js'
import { DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, webhookPublic, type WebhookDef, type WebhookEventName } from '../../lua/webhooks.js'
import type { Directory } from '../directory/index.js'
import { AppError } from '../errors.js'
import { isId } from '../ids.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { optBool, optStringArray, reqString } from '../validate.js'
import { jsonRoute, type RouteHandler } from '../http/admin.js'
import { DELIVERY_STATUSES, listDeliveries, replayDelivery, type DeliveryStatus } from './deliveries.js'
import type { NewWebhook, WebhookStore } from './store.js'

export type WebhookRouteDeps = {
  app: TemplatedApp; log: Logger; metrics: Metrics; sql: Sql | null; directory: Directory; store: WebhookStore
  /** wraps a handler with the admin bearer check (admin.ts) */
  admin: (h: RouteHandler) => RouteHandler
  allowPrivate: boolean; secretOverlapMs: number
}

/** The webhook as the API shows it; the secret only where asked (creation, rotation). */
export function webhookView(w: WebhookDef, withSecret = false) {
  const { events, ...rest } = webhookPublic(w)
  return { ...rest, events: events ?? [...DEFAULT_WEBHOOK_EVENTS], allEvents: events === null, ...(withSecret ? { secret: w.secret } : {}) }
}

export function registerWebhookRoutes(deps: WebhookRouteDeps): void {
  const { app, directory, store, admin } = deps
  const route = (method: 'get' | 'post' | 'patch' | 'del', pattern: string, params: number, h: RouteHandler) =>
    jsonRoute(app, deps, method, pattern, params, admin(h))
  const account = async (id: string | undefined) => {
    const found = isId(id, 'a') ? await directory.getAccount(id) : null
    if (found === null) throw new AppError('not_found', 'no such account')
    return found
  }
  const webhook = async (accountId: string, id: string | undefined) => {
    const found = isId(id, 'wh') ? await store.get(accountId, id) : null
    if (found === null) throw new AppError('not_found', 'no such webhook')
    return found
  }
  const database = () => {
    if (deps.sql === null) throw new AppError('unavailable', 'webhook deliveries are kept in PostgreSQL: set DATABASE_URL on the engine')
    return deps.sql
  }

  const readUrl = async (body: Record<string, unknown>): Promise<string> => {
    const raw = reqString(body, 'url', 2048)
    const parsed = parseWebhookUrl(raw)
    if ('error' in parsed) throw new AppError('bad_request', `\`url\` ${parsed.error}`)
    const why = await refusedDestination(parsed.url, deps.allowPrivate)
    if (why !== null) throw new AppError('bad_request', `\`url\` is refused: ${why} (set WEBHOOKS_ALLOW_PRIVATE=1 for on-prem receivers)`)
    return parsed.url.toString()
  }
  const readEvents = (body: Record<string, unknown>): WebhookEventName[] | null | undefined => {
    if (body['events'] === null) return null
    const list = optStringArray(body, 'events', WEBHOOK_EVENTS.length * 2, 64)
    if (list === undefined) return undefined
    for (const e of list) {
      if (!(WEBHOOK_EVENTS as readonly string[]).includes(e)) throw new AppError('bad_request', `\`events\`: unknown event ${JSON.stringify(e)} (one of ${WEBHOOK_EVENTS.join(', ')})`)
    }
    if (list.length === 0) throw new AppError('bad_request', '`events` must name at least one event (omit it for all)')
    return [...new Set(list)] as WebhookEventName[]
  }
  const readInboxIds = async (accountId: string, body: Record<string, unknown>): Promise<string[] | null | undefined> => {
    if (body['inboxIds'] === null) return null
    const ids = optStringArray(body, 'inboxIds', 1000)
    if (ids === undefined) return undefined
    for (const id of ids) {
      const inbox = isId(id, 'in') ? await directory.getInbox(accountId, id) : null
      if (inbox === null) throw new AppError('bad_request', `inbox ${JSON.stringify(id)} is not an inbox of this account`)
    }
    return [...new Set(ids)]
  }

  const base = '/api/v1/accounts/:accountId/webhooks'

  route('post', base, 1, async ({ params, body }) => {
    const acct = await account(params[0])
    const input: NewWebhook = {
      url: await readUrl(body),
      events: readEvents(body) ?? null,
      inboxIds: (await readInboxIds(acct.id, body)) ?? null,
      includePrivate: optBool(body, 'includePrivate') ?? false,
    }
    return { webhook: webhookView(await store.create(acct.id, input), true) }
  })

  route('get', base, 1, async ({ params }) => {
    const acct = await account(params[0])
    return { webhooks: (await store.list(acct.id)).map((w) => webhookView(w)) }
  })

  route('get', `${base}/:webhookId`, 2, async ({ params }) => {
    const acct = await account(params[0])
    return { webhook: webhookView(await webhook(acct.id, params[1])) }
  })

  route('patch', `${base}/:webhookId`, 2, async ({ params, body }) => {
    const acct = await account(params[0])
    const current = await webhook(acct.id, params[1])
    const patch = Object.fromEntries(Object.entries({
      url: body['url'] === undefined ? undefined : await readUrl(body),
      events: readEvents(body),
      inboxIds: await readInboxIds(acct.id, body),
      includePrivate: optBool(body, 'includePrivate'),
      active: optBool(body, 'active'),
    }).filter(([, v]) => v !== undefined))
    const updated = await store.update(acct.id, current.id, patch)
    if (updated === null) throw new AppError('not_found', 'no such webhook')
    return { webhook: webhookView(updated) }
  })

  route('del', `${base}/:webhookId`, 2, async ({ params }) => {
    const acct = await account(params[0])
    const current = await webhook(acct.id, params[1])
    if (!(await store.remove(acct.id, current.id))) throw new AppError('not_found', 'no such webhook')
    return { deleted: true }
  })

  route('post', `${base}/:webhookId/secret`, 2, async ({ params }) => {
    const acct = await account(params[0])
    const current = await webhook(acct.id, params[1])
    const rotated = await store.rotateSecret(acct.id, current.id, deps.secretOverlapMs)
    if (rotated === null) throw new AppError('not_found', 'no such webhook')
    return { secret: rotated.secret, previousSecretExpiresAt: rotated.previousSecretExpiresAt }
  })

  route('get', `${base}/:webhookId/deliveries`, 2, async ({ params, query }) => {
    const acct = await account(params[0])
    const current = await webhook(acct.id, params[1])
    const q = new URLSearchParams(query)
    const status = q.get('status') ?? undefined
    if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
      throw new AppError('bad_request', `\`status\` must be one of ${DELIVERY_STATUSES.join(', ')}`)
    }
    const limit = Number(q.get('limit') ?? 50)
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 500) throw new AppError('bad_request', '`limit` must be an integer between 1 and 500')
    const beforeRaw = q.get('before')
    const before = beforeRaw === null ? undefined : Number(beforeRaw)
    if (before !== undefined && !Number.isSafeInteger(before)) throw new AppError('bad_request', '`before` must be a time in ms')
    return { deliveries: await listDeliveries(database(), current.id, { status: status as DeliveryStatus | undefined, limit, before }) }
  })

  route('post', `${base}/:webhookId/deliveries/:deliveryId/replay`, 3, async ({ params }) => {
    const acct = await account(params[0])
    const current = await webhook(acct.id, params[1])
    const id = params[2] ?? ''
    const replayed = /^whd_[0-9a-f]{32}$/.test(id) ? await replayDelivery(database(), current.id, id) : null
    if (replayed === null) throw new AppError('not_found', 'no such delivery')
    return { delivery: replayed }
  })
}
