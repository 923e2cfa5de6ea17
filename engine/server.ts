// Wires one engine node: its services (services.ts), the two WebSocket endpoints and their fan-out,
// the HTTP routes (http/routes.ts), background work, readiness and graceful shutdown.
import { isCluster, type RedisClient as Redis } from '../lua/client.js'
import type { Redis as IORedis } from 'ioredis'
import { createShardedFeed } from '../lua/feeds/sharded.js'
import { createPubsubFeed } from '../lua/feeds/feed.js'
import { keysFor, partitionOf } from '../lua/keys.js'
import type { Sql } from 'postgres'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import type { us_listen_socket } from 'uWebSockets.js'
import type { EngineConfig } from './config.js'
import { registerRoutes } from './http/routes.js'
import { createScheduler } from './scheduler.js'
import { assignReopened } from './reopen.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import { createFanout, type Fanout } from './fanout/fanout.js'
import { createFollow } from './fanout/follow.js'
import type { OpDeps } from './ops/deps.js'
import type { Op } from './ops/types.js'
import { ops } from './ops/index.js'
import { AppError } from './errors.js'
import { connLog, type ConnData } from './connection.js'
import { CLOSE } from './protocol.js'
import { createServices } from './services.js'
import { createSockets } from './sockets/index.js'
import { createPeriodic } from './periodic.js'
import { createUpgrader } from './upgrade.js'
import type { Uws } from './uws.js'

/** how long a state change waits for a catching-up partition before `unavailable` */
const FANOUT_WAIT_MS = 2000

export type EngineDeps = {
  config: EngineConfig
  uws: Uws
  /** commands and scripts */
  redis: Redis
  /** pub/sub subscriber (fan-out) */
  sub: Redis
  /** PostgreSQL (DATABASE_URL) for reports and cold history; null without it */
  sql: Sql | null
  /** rate limiter store: a client with the offline queue off, so a Redis outage fails fast */
  limiterRedis: Redis
  log: Logger
  metrics: Metrics
}

export function createEngine(deps: EngineDeps) {
  const { config, uws, redis, log, metrics } = deps
  const app = uws.App()
  let draining = false
  let listenSocket: us_listen_socket | null = null

  // fan-out is part of being ready: a node whose subscription is down or catching up is not
  const isReady = () => !draining && redis.status === 'ready' && fanoutRef !== null && fanoutRef.allLive()
  const checkReady = async () => {
    if (!isReady()) return false
    const pong = await Promise.race([redis.ping(), new Promise<null>((r) => setTimeout(() => r(null), 1000).unref())])
    return pong === 'PONG'
  }

  const limiter = new RateLimiterRedis({
    storeClient: deps.limiterRedis,
    keyPrefix: '',
    points: config.connRatePoints,
    duration: config.connRateWindowSec,
    insuranceLimiter: new RateLimiterMemory({ points: config.connRatePoints, duration: config.connRateWindowSec }),
  })

  const services = createServices({ config, redis, sql: deps.sql, log, metrics })
  const { scripts, directory, eviction, assignment, presence, reader, acked } = services
  const upgrader = createUpgrader({
    config, directory, presence, limiter, log, metrics, isReady,
    openConversation: (accountId, contactId, inboxId) => reader.current(accountId, contactId, inboxId),
  })

  // per-connection op rate: a burst of 2 s worth, refilled at OPS_PER_SECOND
  const opLimiter = new RateLimiterMemory({ points: config.opsPerSecond * 2, duration: 2 })
  const admit = async (conn: ConnData, op: Op<OpDeps>) => {
    // no state change is acknowledged while this node's fan-out of the partition is not live
    // (its own clients would miss the change until the catch-up): wait a moment, then refuse
    if (op.readOnly !== true) {
      const p = partitionOf(conn.accountId, config.partitions)
      if (fanoutRef !== null && !fanoutRef.isLive(p) && !await fanoutRef.whenLive(FANOUT_WAIT_MS, p)) {
        throw new AppError('unavailable', 'live delivery is reconnecting; retry shortly', { retryAfterMs: 500 })
      }
    }
    try {
      await opLimiter.consume(conn.id)
    } catch (rej) {
      if (rej instanceof Error) throw rej
      throw new AppError('rate_limited', 'too many operations on this connection', { retryAfterMs: (rej as { msBeforeNext: number }).msBeforeNext })
    }
  }

  const opDeps: OpDeps = {
    config, redis, directory, presence, scripts, reader, assignment, acked, now: Date.now, hotTail: config.hotTail,
    assignLimiter: new RateLimiterMemory({ points: config.assignsPerMinute, duration: 60 }),
    search: services.search,
  }
  let fanoutRef: Fanout | null = null
  const sockets = createSockets({
    config, log, metrics, deps: opDeps, ops, admit,
    hooks: {
      onOpen: (ws, hello) => {
        const conn = ws.getUserData()
        follow.join(ws, hello).catch((err: unknown) => connLog(log, conn).warn({ err }, 'subscribe failed'))
        if (conn.principal.kind === 'agent') {
          presence.connect(conn.accountId, conn.principal.agent.id, conn.id).catch((err: unknown) => connLog(log, conn).warn({ err }, 'presence connect failed'))
        }
      },
      onClose: (conn, ws) => {
        fanoutRef?.unsubscribeAll(ws)
        if (conn.principal.kind === 'agent') {
          presence.disconnect(conn.accountId, conn.principal.agent.id, conn.id).catch((err: unknown) => connLog(log, conn).warn({ err }, 'presence disconnect failed'))
        }
      },
    },
  })

  const follow = createFollow({ directory, presence, sockets, fanout: () => fanout, partitions: config.partitions })
  const fanout = createFanout({
    // one instance: classic SUBSCRIBE on one connection; a cluster: one SSUBSCRIBE per partition on its master
    feed: isCluster(redis)
      ? createShardedFeed({ cluster: redis, partitions: config.partitions, log, nodeId: config.nodeId, password: config.redis.kind === 'cluster' ? config.redis.password : null })
      : createPubsubFeed({ sub: deps.sub as IORedis, channels: Array.from({ length: config.partitions }, (_, p) => keysFor(p).fanout), log }),
    redis, partitions: config.partitions, log, deliver: sockets.deliver,
    onPresence: (n) => { follow.onPresence(n).catch((err: unknown) => log.warn({ err }, 'agentsOnline update failed')) },
    onControl: (n) => { follow.onControl(n).catch((err: unknown) => log.warn({ err, type: n.header.t }, 'control notice failed')) },
    onLost: follow.lost,
    onResynced: (p) => {
      follow.resynced(p).catch((err: unknown) => log.warn({ err, partition: p }, 'resync after a fan-out gap failed'))
      // did Redis take back something this node acknowledged (a failover, a restart)?
      acked.check(p).catch((err: unknown) => log.warn({ err, partition: p }, 'checking acknowledged messages after a fan-out gap failed'))
    },
  })
  fanoutRef = fanout

  const wsBehavior = {
    compression: uws.DISABLED,
    // the hard limit where uWS cuts the TCP connection; MAX_PAYLOAD_BYTES (close 1009) is enforced in sockets/dispatch.ts
    maxPayloadLength: config.maxPayloadBytes * 4,
    idleTimeout: Math.max(8, Math.round(config.heartbeatMs / 1000)),
    sendPingsAutomatically: true,
    // uWS drops sends above this; ours (sockets/writer.ts) closes the client at MAX_BACKPRESSURE_BYTES first
    maxBackpressure: config.maxBackpressureBytes * 2,
    closeOnBackpressureLimit: 0,
    ...sockets.behavior,
  }
  app.ws('/ws/agent', { ...wsBehavior, upgrade: upgrader.handler('agent') })
  app.ws('/ws/widget', { ...wsBehavior, upgrade: upgrader.handler('contact') })

  registerRoutes(app, { config, redis, sql: deps.sql, log, metrics, services, checkReady })
  const scheduler = createScheduler({
    scripts, partitions: config.partitions, now: opDeps.now, intervalMs: config.schedulerMs, log, hotTail: config.hotTail,
    onReopened: (c) => assignReopened({ directory, assignment }, c),
  })
  const heartbeat = setInterval(() => {
    presence.heartbeat().catch((err: unknown) => log.warn({ err }, 'presence heartbeat failed'))
  }, Math.max(250, Math.floor(Math.min(config.heartbeatMs, config.presenceGraceMs) / 3)))
  heartbeat.unref()
  // presence sweep (offline after the grace window) and the assignment queue sweep, on every node:
  // both are single atomic scripts per partition, so concurrent nodes never double-apply
  const maintenance = createPeriodic(config.sweepMs, () =>
    Promise.all([presence.sweep(), assignment.sweep()]).catch((err: unknown) => log.warn({ err }, 'maintenance sweep failed')))

  async function listen(): Promise<number> {
    await fanout.start()
    scheduler.start()
    eviction.start()
    maintenance.start()
    return new Promise((resolve, reject) => {
      app.listen(config.host, config.port, (socket) => {
        if (socket === false) return reject(new Error(`cannot listen on ${config.host}:${config.port}`))
        listenSocket = socket
        resolve(uws.us_socket_local_port(socket))
      })
    })
  }

  /** Stop accepting, tell every client to reconnect elsewhere, let buffers drain, then stop. */
  async function shutdown(): Promise<void> {
    if (draining) return
    draining = true
    clearInterval(heartbeat)
    await maintenance.stop()
    await scheduler.stop()
    await eviction.stop()
    if (listenSocket !== null) uws.us_listen_socket_close(listenSocket)
    listenSocket = null
    sockets.closeAll(CLOSE.reconnect, 'server restarting: reconnect and resume')
    const deadline = Date.now() + config.shutdownGraceMs
    while (sockets.live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await fanout.stop()
  }

  return { app, listen, shutdown, directory, presence, sockets, fanout, scripts, eviction }
}

export type Engine = ReturnType<typeof createEngine>
