// Every HTTP route of an engine node, in one place: health and metrics, the SDK and web bundles,
// admin, search, webhooks, ingest, and a JSON 404 for the rest.
import type { RedisClient as Redis } from '../../lua/client.js'
import type { Sql } from 'postgres'
import type { TemplatedApp } from 'uWebSockets.js'
import { setInboxAutoResolve } from '../auto-resolve.js'
import type { EngineConfig } from '../config.js'
import { createAgentAdmin } from '../directory/agent-admin.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../metrics.js'
import { setInboxBusinessHours } from '../reports/business-hours.js'
import { registerSearchRoutes } from '../search/http.js'
import type { Services } from '../services.js'
import { registerWebRoutes } from '../web/routes.js'
import { registerWebhookRoutes } from '../webhooks/routes.js'
import { createWebhookStore } from '../webhooks/store.js'
import { adminOnly, registerAdminRoutes } from './admin.js'
import { registerHealthRoutes } from './health.js'
import { registerIngestRoutes } from './ingest.js'
import { sendJson, track } from './respond.js'
import { registerSdkRoute } from './sdk.js'

export type RouteDeps = {
  config: EngineConfig
  redis: Redis
  sql: Sql | null
  log: Logger
  metrics: Metrics
  services: Services
  checkReady: () => Promise<boolean>
}

export function registerRoutes(app: TemplatedApp, { config, redis, sql, log, metrics, services, checkReady }: RouteDeps): void {
  const { directory, scripts, assignment, rehydrator, acked } = services
  const partitions = config.partitions
  registerHealthRoutes(app, { metrics, checkReady })
  registerSdkRoute(app)
  registerWebRoutes(app)
  registerAdminRoutes(app, {
    sql,
    agents: createAgentAdmin({ redis, scripts, directory, assignment, partitions, hotTail: config.hotTail, now: Date.now, log }),
    directory, adminToken: config.adminToken, log, metrics, messagesPerMinuteDefault: config.messagesPerMinuteDefault,
    setAutoResolve: (accountId, inboxId, afterMs) => setInboxAutoResolve({ redis, partitions }, accountId, inboxId, afterMs),
    setBusinessHours: (accountId, inboxId, hours) => setInboxBusinessHours({ redis, partitions }, accountId, inboxId, hours),
  })
  registerSearchRoutes(app, { search: services.search, directory, adminToken: config.adminToken, log, metrics })
  registerWebhookRoutes({
    app, log, metrics, sql, directory, store: createWebhookStore({ redis, partitions }),
    admin: adminOnly(config.adminToken), allowPrivate: config.webhooksAllowPrivate, secretOverlapMs: config.webhookSecretOverlapMs,
  })
  registerIngestRoutes(app, {
    redis, directory, scripts, assignment, log, metrics, partitions, maxContentChars: config.maxContentChars, hotTail: config.hotTail,
    now: Date.now, rehydrator, sql, acked,
  })
  app.any('/*', (res) => {
    sendJson(res, track(res), '404 Not Found', { error: { code: 'not_found', message: 'no such route' } })
  })
}
