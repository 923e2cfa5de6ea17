// The domain services of one engine node, built once and shared by its sockets, HTTP routes and
// background work: the scripts (restoring evicted conversations on a miss), directory, eviction,
// assignment, presence, the conversation reader, the acknowledged-message ledger and search.
import type { RedisClient as Redis } from '../lua/client.js'
import type { Sql } from 'postgres'
import { createScripts } from '../lua/scripts.js'
import type { EngineConfig } from './config.js'
import { createDirectory } from './directory/index.js'
import { createAssignment } from './assignment.js'
import { createConversationReader } from './conversations.js'
import { createAckLedger } from './durability/acked.js'
import { createEviction, createRetentionMetrics, evictionIntervalMs } from './eviction.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import { createPresence } from './presence.js'
import { createRehydrator, withRehydration } from './rehydrate.js'
import { createSearch } from './search/search.js'

export type ServiceDeps = { config: EngineConfig; redis: Redis; sql: Sql | null; log: Logger; metrics: Metrics }

export function createServices({ config, redis, sql, log, metrics }: ServiceDeps) {
  const baseScripts = createScripts(redis, {
    observe: (script, seconds) => metrics.scriptSeconds.observe({ script }, seconds),
    durability: { replicas: config.waitReplicas, timeoutMs: config.waitTimeoutMs },
  })
  const retention = createRetentionMetrics(metrics.registry)
  const rehydrator = sql === null ? null : createRehydrator({
    sql, scripts: baseScripts, partitions: config.partitions, hotTail: config.hotTail, now: Date.now, log,
    onRehydrated: () => retention.rehydrated.inc(), onContactRehydrated: () => retention.contactsRehydrated.inc(),
  })
  const directory = createDirectory({
    redis, partitions: config.partitions, scripts: baseScripts, ...(rehydrator === null ? {} : { restoreContact: rehydrator.restoreContact }),
  })
  // conversation scripts that find no conversation restore an evicted one and run again
  const scripts = rehydrator === null ? baseScripts : withRehydration(baseScripts, rehydrator)
  const eviction = createEviction({
    redis, sql, scripts: baseScripts, partitions: config.partitions, retentionMs: config.retentionMs,
    intervalMs: evictionIntervalMs(config.retentionMs, config.sweepMs), now: Date.now, log, metrics: retention,
  })
  const assignment = createAssignment({
    redis, scripts, directory, partitions: config.partitions, graceMs: config.presenceGraceMs, hotTail: config.hotTail, now: Date.now, log,
  })
  const presence = createPresence({
    redis, scripts, partitions: config.partitions, graceMs: config.presenceGraceMs,
    onOnline: (accountId, agentId) => {
      assignment.onAgentAvailable(accountId, agentId).catch((err: unknown) => log.warn({ err }, 'queue drain failed'))
    },
  })
  const reader = createConversationReader({ redis, directory, partitions: config.partitions, sql, rehydrator })
  const acked = createAckLedger({
    redis, sql, partitions: config.partitions, log,
    onLost: (p, lost) => metrics.ackedLost.inc({ partition: String(p) }, lost.length),
  })
  const search = createSearch({ sql, redis, partitions: config.partitions })
  return { scripts, rehydrator, directory, eviction, assignment, presence, reader, acked, search }
}

export type Services = ReturnType<typeof createServices>
