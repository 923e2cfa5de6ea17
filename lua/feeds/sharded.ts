// The fan-out feed on a Redis Cluster (the Feed of feed.ts): one SSUBSCRIBE per partition channel (a shard channel in the
// partition's slot), sent to the master that owns that slot, one subscriber connection per master.
// It follows the cluster: a `sunsubscribe` push (the slot moved: Redis sends it at the final
// `CLUSTER SETSLOT … NODE`), a MOVED answer to SSUBSCRIBE, a subscriber connection that closes (a
// master killed, a network blip) and a periodic look at CLUSTER SLOTS all lead to one reconcile
// pass that subscribes every partition on its current owner. Each partition is reported down when
// its subscription is lost and up once it is subscribed again, so the caller can catch up what was
// published meanwhile (notices published during a slot migration reach nobody: the catch-up must
// cover the window from the last notice it delivered).
import { Redis, type Cluster } from 'ioredis'
import type { Logger } from 'pino'
import { keysFor } from '../keys.js'
import { partitionSlot } from '../slot.js'
import type { Feed, FeedHandlers } from './feed.js'

export type ShardedFeedDeps = {
  /** the command client: its CLUSTER SLOTS answers who owns which slot */
  cluster: Cluster
  partitions: number
  log: Logger
  nodeId: string
  password: string | null
  /** how often the slot owners are looked at when nothing happened (default 5 s) */
  checkMs?: number
  /** after a failed pass, the next one (default 250 ms) */
  retryMs?: number
}

type Subscriber = { key: string; redis: Redis; alive: boolean }

export function createShardedFeed(deps: ShardedFeedDeps): Feed & { live(): boolean; down(): number[] } {
  const checkMs = deps.checkMs ?? 5000
  const retryMs = deps.retryMs ?? 250
  const channelOf = Array.from({ length: deps.partitions }, (_, p) => keysFor(p).fanout)
  const partitionOfChannel = new Map(channelOf.map((c, p) => [c, p]))
  const subscribers = new Map<string, Subscriber>()
  /** partition -> the subscriber key ("host:port") it is live on; absent = down */
  const liveOn = new Map<number, string>()
  let handlers: FeedHandlers | null = null
  let stopped = false
  let running: Promise<void> | null = null
  let again = false
  let timer: NodeJS.Timeout | null = null

  function schedule(ms: number): void {
    if (stopped) return
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      void reconcile()
    }, ms)
    timer.unref()
  }

  /** Marks the partitions live on `key` down (all of them: which channel a push dropped is not told). */
  function lose(key: string, why: string): void {
    const down: number[] = []
    for (const [p, on] of liveOn) if (on === key) down.push(p)
    for (const p of down) liveOn.delete(p)
    if (down.length > 0) {
      deps.log.warn({ node: key, partitions: down.length, why }, 'shard subscriptions lost; resubscribing')
      handlers?.down(down)
    }
    // a moved slot: its new owner is known now; a closed connection: give the node a moment
    if (why === 'sunsubscribe') void reconcile()
    else schedule(retryMs)
  }

  function subscriber(key: string, host: string, port: number): Subscriber {
    const known = subscribers.get(key)
    if (known !== undefined && known.alive) return known
    const redis = new Redis({
      host, port, connectionName: `parley-ssub-${deps.nodeId}`, ...(deps.password !== null ? { password: deps.password } : {}),
      // this feed resubscribes itself, on the slot's current owner: no blind reconnect to the old one
      autoResubscribe: false, retryStrategy: () => null, maxRetriesPerRequest: 1, enableOfflineQueue: true,
    })
    const sub: Subscriber = { key, redis, alive: true }
    subscribers.set(key, sub)
    redis.on('smessage', (channel: string, message: string) => {
      const p = partitionOfChannel.get(channel)
      if (p !== undefined && liveOn.get(p) === key) handlers?.notice(p, message)
    })
    // an unsolicited sunsubscribe: a slot of this node moved away
    redis.on('moved', () => lose(key, 'sunsubscribe'))
    redis.on('error', (err: Error) => deps.log.debug({ err: err.message, node: key }, 'shard subscriber error'))
    redis.on('close', () => {
      if (!sub.alive) return
      sub.alive = false
      if (subscribers.get(key) === sub) subscribers.delete(key)
      if (!stopped) lose(key, 'connection closed')
    })
    return sub
  }

  /** slot -> "host:port" of its master, from CLUSTER SLOTS. */
  async function owners(): Promise<Map<number, { key: string; host: string; port: number }>> {
    const reply = (await deps.cluster.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][]
    const out = new Map<number, { key: string; host: string; port: number }>()
    for (let p = 0; p < deps.partitions; p++) {
      const slot = partitionSlot(p)
      const range = reply.find(([first, last]) => slot >= first && slot <= last)
      if (range === undefined) continue
      const [host, port] = range[2]
      const h = host === '' ? '127.0.0.1' : host
      out.set(slot, { key: `${h}:${port}`, host: h, port: Number(port) })
    }
    return out
  }

  async function pass(): Promise<boolean> {
    const map = await owners()
    const down: number[] = []
    const wanted = new Map<string, { node: { key: string; host: string; port: number }; partitions: number[] }>()
    for (let p = 0; p < deps.partitions; p++) {
      const owner = map.get(partitionSlot(p))
      const on = liveOn.get(p)
      if (owner !== undefined && on === owner.key && subscribers.get(on)?.alive === true) continue
      if (on !== undefined) {
        liveOn.delete(p)
        down.push(p)
      }
      if (owner === undefined) continue // no owner right now (a master down, no replica promoted yet)
      const w = wanted.get(owner.key) ?? { node: owner, partitions: [] }
      w.partitions.push(p)
      wanted.set(owner.key, w)
    }
    if (down.length > 0) handlers?.down(down)
    const up: number[] = []
    let complete = map.size === new Set(channelOf.map((_, p) => partitionSlot(p))).size
    for (const { node, partitions } of wanted.values()) {
      const sub = subscriber(node.key, node.host, node.port)
      // one SSUBSCRIBE per partition: a shard subscription cannot span slots (CROSSSLOT)
      await Promise.all(partitions.map(async (p) => {
        try {
          await sub.redis.ssubscribe(channelOf[p] as string)
          liveOn.set(p, node.key)
          up.push(p)
        } catch (err) {
          // MOVED (the map was stale), CLUSTERDOWN, a closed connection: the next pass asks again
          complete = false
          deps.log.debug({ err: (err as Error).message, node: node.key, partition: p }, 'ssubscribe failed; retrying')
        }
      }))
    }
    if (up.length > 0) handlers?.up(up)
    return complete && liveOn.size === deps.partitions
  }

  /** One pass at a time; a request during a pass runs one more after it. */
  function reconcile(): Promise<void> {
    if (stopped) return Promise.resolve()
    if (running !== null) {
      again = true
      return running
    }
    running = (async () => {
      let ok = false
      do {
        again = false
        try {
          ok = await pass()
        } catch (err) {
          ok = false
          deps.log.debug({ err: (err as Error).message }, 'shard feed pass failed; retrying')
        }
      } while (again && !stopped)
      running = null
      schedule(ok ? checkMs : retryMs)
    })()
    return running
  }

  return {
    /** Subscribes every partition; resolves once every partition is up. */
    async start(h: FeedHandlers): Promise<void> {
      handlers = h
      stopped = false
      await reconcile()
      while (!stopped && liveOn.size < deps.partitions) {
        await new Promise((r) => setTimeout(r, retryMs))
        await running
      }
    },
    /** every partition subscribed on its owner */
    live: () => liveOn.size === deps.partitions,
    /** the partitions not subscribed right now */
    down: () => Array.from({ length: deps.partitions }, (_, p) => p).filter((p) => !liveOn.has(p)),
    async stop(): Promise<void> {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      await running
      for (const s of subscribers.values()) {
        s.alive = false
        s.redis.disconnect()
      }
      subscribers.clear()
      liveOn.clear()
    },
  }
}

export type ShardedFeed = ReturnType<typeof createShardedFeed>
