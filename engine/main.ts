// The engine's composition root: config → native uWS → Redis clients → engine → listen.
// WORKERS > 1 makes this process a primary that forks that many engines on one port (workers.ts).
import { fileURLToPath } from 'node:url'
import { connectRedis, targetModeError, type RedisClient, type RedisTarget } from '../lua/client.js'
import { checkLayout } from '../lua/layout.js'
import postgres from 'postgres'
import { loadConfig } from './config.js'
import { createLogger } from './log.js'
import { createMetrics } from './metrics.js'
import { createEngine } from './server.js'
import { loadNativeUws, NativeUwsError } from './uws.js'
import { runWorkers, type ListeningNotice } from './workers.js'
import type { Logger } from './log.js'

/**
 * The key layout guard (lua/layout.ts): waits for Redis, exits 2 on data of another layout, or on a
 * Redis of the other mode than configured (a standalone server as REDIS_CLUSTER_NODES, a cluster
 * node as REDIS_URL).
 */
async function awaitLayout(redis: RedisClient, target: RedisTarget, partitions: number, log: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const wrongMode = await targetModeError(target)
      if (wrongMode !== null) {
        log.fatal(wrongMode)
        process.stderr.write(`parley engine: invalid configuration: ${wrongMode}\n`)
        process.exit(2)
      }
      const check = await checkLayout(redis, partitions)
      if (check.ok) return
      log.fatal({ partitions }, check.error)
      process.stderr.write(`parley engine: refusing to start: ${check.error}\n`)
      process.exit(2)
    } catch (err) {
      if (attempt === 1 || attempt % 30 === 0) log.warn({ err: (err as Error).message }, 'waiting for Redis to check the key layout')
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
}

/** A client's error events, logged at most once per 5 s each (a cluster retries every 100 ms), with how many were not. */
function throttledErrorLog(log: Logger): (err: Error) => void {
  let last = 0
  let quiet = 0
  return (err) => {
    const now = Date.now()
    if (now - last < 5000) { quiet++; return }
    log.warn({ err: err.message, ...(quiet > 0 ? { notLogged: quiet } : {}) }, 'redis error')
    last = now
    quiet = 0
  }
}

async function main(): Promise<void> {
  const loaded = loadConfig(process.env)
  if (!loaded.ok) {
    process.stderr.write(`parley engine: invalid configuration:\n${loaded.errors.map((e) => `  - ${e}`).join('\n')}\n`)
    process.exit(2)
  }
  const { config } = loaded
  const log = createLogger(config.logLevel)
  if (config.workers > 1) {
    const code = await runWorkers({
      count: config.workers, host: config.host, port: config.port, nodeId: config.nodeId,
      script: fileURLToPath(import.meta.url), env: process.env, log,
    })
    process.exit(code)
  }
  let uws
  try {
    uws = loadNativeUws()
  } catch (err) {
    if (!(err instanceof NativeUwsError)) throw err
    log.fatal({ err }, err.message)
    process.stderr.write(`parley engine: ${err.message}\n`)
    process.exit(3)
  }
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 3, name: `parley-engine-${config.nodeId}` })
  const limiterRedis = connectRedis(config.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1, name: `parley-rl-${config.nodeId}` })
  // one instance: the classic subscriber; a cluster uses shard subscribers instead (lua/feeds/sharded.ts)
  const sub = connectRedis(config.redis, { name: `parley-sub-${config.nodeId}`, lazyConnect: config.redis.kind === 'cluster' })
  for (const client of [redis, limiterRedis, sub]) client.on('error', throttledErrorLog(log))
  await awaitLayout(redis, config.redis, config.partitions, log)

  // the library's default reconnect backoff waits up to 20 s; 1 s keeps reports/history snappy after an outage
  const sql = config.databaseUrl === null ? null : postgres(config.databaseUrl, {
    max: 4, connect_timeout: 5, backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1), onnotice: () => {},
  })
  const engine = createEngine({ config, uws, redis, sub, limiterRedis, sql, log, metrics: createMetrics() })
  const port = await engine.listen()
  log.info({ port, host: config.host, node: config.nodeId }, `engine listening on http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`)
  if (process.send !== undefined) process.send({ parley: 'listening', port } satisfies ListeningNotice)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    engine.shutdown()
      .then(() => Promise.allSettled([redis.quit(), limiterRedis.quit(), sub.quit(), sql?.end({ timeout: 2 })]))
      .then(() => process.exit(0), (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // a forked worker whose primary is gone (even SIGKILLed) drains and exits instead of lingering
  if (process.connected) process.once('disconnect', () => stop('disconnect'))
}

main().catch((err: unknown) => {
  process.stderr.write(`parley engine: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
