// The engine's composition root: config → native uWS → Redis clients → engine → listen.
import { Redis } from 'ioredis'
import { loadConfig } from './config.js'
import { createLogger } from './log.js'
import { createMetrics } from './metrics.js'
import { createEngine } from './server.js'
import { loadNativeUws, NativeUwsError } from './uws.js'

async function main(): Promise<void> {
  const loaded = loadConfig(process.env)
  if (!loaded.ok) {
    process.stderr.write(`parley engine: invalid configuration:\n${loaded.errors.map((e) => `  - ${e}`).join('\n')}\n`)
    process.exit(2)
  }
  const { config } = loaded
  const log = createLogger(config.logLevel)
  let uws
  try {
    uws = loadNativeUws()
  } catch (err) {
    if (!(err instanceof NativeUwsError)) throw err
    log.fatal({ err }, err.message)
    process.stderr.write(`parley engine: ${err.message}\n`)
    process.exit(3)
  }
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, connectionName: `parley-engine-${config.nodeId}` })
  const limiterRedis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: `parley-rl-${config.nodeId}` })
  const sub = new Redis(config.redisUrl, { connectionName: `parley-sub-${config.nodeId}` })
  for (const client of [redis, limiterRedis, sub]) client.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'))

  const engine = createEngine({ config, uws, redis, sub, limiterRedis, log, metrics: createMetrics() })
  const port = await engine.listen()
  log.info({ port, host: config.host, node: config.nodeId }, `engine listening on http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    engine.shutdown()
      .then(() => Promise.allSettled([redis.quit(), limiterRedis.quit(), sub.quit()]))
      .then(() => process.exit(0), (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  process.stderr.write(`parley engine: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
