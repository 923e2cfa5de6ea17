// Gapless fan-out per partition. Every notice a script publishes is first appended to the
// partition's notice log (keys.ts `notices`) and carries that log id, so a node knows, per
// partition, the last notice it delivered. While a partition's subscription is down (a Redis
// restart, CLIENT KILL, a failover, a slot move) the partition is not live: state changes are
// refused (server.ts) and live notices, if any, are held. When the subscription is confirmed again
// the node reads back from the log what came after its last id, delivers it in order, then the
// held notices it has not delivered yet, and goes live: a connected client misses nothing and gets
// nothing twice. If the log no longer holds the gap (down longer than its window), the partition's
// local clients are told to reconnect and resume (`lost`), which the protocol's recipe covers. If it
// went back behind what the node delivered (Redis lost writes), the node follows it from there.
import type { Redis, Cluster } from 'ioredis'
import { NOTICE_LOG_MS, noticeId } from '../../lua/codec.js'
import { compareStreamIds } from '../../lua/stream-id.js'
import type { Logger } from '../log.js'

type State = {
  /** the newest log id delivered (or known to be past) on this node; '0-0' before any */
  last: string
  mode: 'live' | 'down' | 'catching'
  /** when the subscription went down (this process's clock) */
  downAt: number
  /** live notices that arrived while not live, in arrival order */
  held: string[]
}

/** Live notices held per partition while it catches up; past this the partition is `lost`. */
const MAX_HELD = 100_000
const PAGE = 500
/** an outage at least this much shorter than the log's window is surely still in the log */
const WINDOW_MARGIN_MS = 3000

export function createSequencer(deps: {
  /** a command connection (never the subscriber): reads the notice logs */
  redis: Redis | Cluster
  /** notice log key of each partition */
  logKeys: readonly string[]
  log: Logger
  deliver: (raw: string) => void
  /** the log no longer holds this partition's gap: its local clients must reconnect and resume */
  lost: (partition: number) => void
  /** a catch-up finished (not the first start): state that is not in the log may need a refresh */
  resynced?: (partition: number) => void
  retryMs?: number
  now?: () => number
}) {
  const now = deps.now ?? Date.now
  const { redis, logKeys, log } = deps
  const states: State[] = logKeys.map(() => ({ last: '0-0', mode: 'down', downAt: 0, held: [] }))
  let started = false
  const waiters = new Set<() => void>()

  function notice(p: number, raw: string): void {
    const s = states[p]
    if (s === undefined) return
    if (s.mode !== 'live') {
      if (s.held.length >= MAX_HELD) return // already lost: lost() is called when the catch-up ends
      s.held.push(raw)
      return
    }
    pass(s, raw)
  }

  /** Delivers a notice unless this node already delivered it (its id is not past `last`). */
  function pass(s: State, raw: string): void {
    const id = noticeId(raw)
    if (id !== null) {
      if (compareStreamIds(id, s.last) <= 0) return
      s.last = id
    }
    deps.deliver(raw)
  }

  function down(partitions: readonly number[]): void {
    for (const p of partitions) {
      const s = states[p]
      if (s === undefined) continue
      if (s.mode === 'live') s.downAt = now()
      s.mode = 'down'
    }
  }

  function up(partitions: readonly number[]): void {
    const first = !started
    started = true
    for (const p of partitions) {
      const s = states[p]
      if (s === undefined || s.mode === 'catching') continue
      s.mode = 'catching'
      catchUp(p, first).catch((err: unknown) => log.error({ err, partition: p }, 'fan-out catch-up failed'))
    }
  }

  async function catchUp(p: number, first: boolean): Promise<void> {
    const s = states[p] as State
    const key = logKeys[p] as string
    for (let attempt = 0; s.mode === 'catching'; attempt++) {
      try {
        if (first) {
          // nothing was delivered before: start after whatever the log holds now
          s.last = await newestId(key) ?? '0-0'
        } else {
          if (s.held.length >= MAX_HELD || await gapTrimmed(key, s.last, now() - s.downAt)) {
            log.warn({ partition: p, last: s.last }, 'fan-out gap no longer in the notice log: clients of the partition reconnect')
            s.last = await newestId(key) ?? s.last
            deps.lost(p)
          } else {
            await rewindIfRegressed(p, s, key)
            await replay(s, key)
          }
        }
        break
      } catch (err) {
        if (s.mode !== 'catching') return
        log.warn({ err: (err as Error).message, partition: p, attempt }, 'fan-out catch-up: Redis not answering, retrying')
        await new Promise((r) => setTimeout(r, Math.min(1000, (deps.retryMs ?? 50) * 2 ** attempt)))
      }
    }
    if (s.mode !== 'catching') return // went down again meanwhile: the next up catches up
    const held = s.held
    s.held = []
    for (const raw of held) pass(s, raw)
    s.mode = 'live'
    if (!first) deps.resynced?.(p)
    for (const w of [...waiters]) w()
  }

  /** Delivers every logged notice after `s.last`, oldest first. */
  async function replay(s: State, key: string): Promise<void> {
    for (;;) {
      const page = (await redis.xrange(key, `(${s.last}`, '+', 'COUNT', PAGE)) as [string, string[]][]
      for (const [id, fields] of page) {
        const body = fields[1]
        if (fields[0] === 'n' && body !== undefined) pass(s, `${id} ${body}`)
        else s.last = id
      }
      if (page.length < PAGE) return
    }
  }

  /**
   * Redis went back in time (a failover to a lagging replica, an AOF that lost its tail): the log
   * ends before what this node delivered. Stream ids come from the promoted master's clock: in step
   * with the old one's, what it logged since is above `last` anyway; running behind, its new ids fall
   * below `last` and each would be taken for a notice already delivered. So the node follows the log
   * from its newest entry. (What a clock that far behind logged before this node re-subscribed is not
   * told apart from what it delivered: run NTP. The engine's ack ledger, engine/durability, counts
   * the messages Redis lost.)
   */
  async function rewindIfRegressed(p: number, s: State, key: string): Promise<void> {
    const newest = await newestId(key)
    if (newest === null || compareStreamIds(newest, s.last) >= 0) return // an empty log (trimmed when idle) tells nothing
    log.warn({ partition: p, last: s.last, newest }, 'fan-out: the notice log is behind what this node delivered (Redis lost writes): following it from its newest entry')
    s.last = newest
  }

  async function newestId(key: string): Promise<string | null> {
    const newest = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][]
    return newest[0]?.[0] ?? null
  }

  /**
   * Can trimming have removed a notice after `last`? Not while the log still holds `last` (it trims
   * oldest first), and not when the outage is well inside the window: a notice is trimmed only
   * NOTICE_LOG_MS after it was added, and every notice missed was added after the outage began.
   */
  async function gapTrimmed(key: string, last: string, outageMs: number): Promise<boolean> {
    if (outageMs < NOTICE_LOG_MS - WINDOW_MARGIN_MS) return false
    const oldest = (await redis.xrange(key, '-', '+', 'COUNT', 1)) as [string, string[]][]
    const first = oldest[0]?.[0]
    return first !== undefined && compareStreamIds(first, last) > 0
  }

  return {
    notice, down, up,
    /** may this partition's state change be acknowledged (its fan-out delivers everything)? */
    isLive: (p: number) => states[p]?.mode === 'live',
    allLive: () => started && states.every((s) => s.mode === 'live'),
    /** resolves true once partition `p` (every partition when omitted) is live, false after `ms` */
    whenLive(ms: number, p?: number): Promise<boolean> {
      const ready = () => started && (p === undefined ? states.every((s) => s.mode === 'live') : states[p]?.mode === 'live')
      if (ready()) return Promise.resolve(true)
      return new Promise((resolve) => {
        const check = () => {
          if (!ready()) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(true)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          resolve(false)
        }, ms)
        waiters.add(check)
      })
    },
  }
}

export type Sequencer = ReturnType<typeof createSequencer>
