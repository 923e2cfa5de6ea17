// What this node acknowledged, checked against Redis after a fan-out gap. Without
// REDIS_WAIT_REPLICAS a failover to a lagging replica (or a redis-server restarted from an AOF that
// lost its tail) takes back writes the engine had already acknowledged, and neither Redis nor the
// archiver can tell which: the archiver never saw them. The engine that acknowledged them can. It
// keeps, per partition, the messages it acknowledged in the last LEDGER_MS; whenever a partition's
// subscription comes back (the sequencer's catch-up, which every failover and restart goes through)
// it looks each one up in the conversation log, then in PostgreSQL (the archiver may have committed
// it before Redis lost it), and counts what is in neither as lost: `parley_acked_lost_total` and an
// ALARM log naming the messages. With REDIS_WAIT_REPLICAS=1 the count stays 0, which this checks too.
import type { Sql } from 'postgres'
import type { RedisClient } from '../../lua/client.js'
import { keysFor, partitionOf } from '../../lua/keys.js'
import { compareStreamIds } from '../../lua/stream-id.js'
import type { Logger } from '../log.js'

/**
 * How long an acknowledged message is remembered while its partition is live: far longer than a
 * replica's lag. (While the partition is down nothing is forgotten: writes are refused, so nothing
 * is recorded, and the check at its return sees what was acknowledged before the loss, however long
 * the outage.) Memory: about 200 B per message, so 20 s at 5,000 msg/s on a node is 20 MB.
 */
export const LEDGER_MS = 20_000
/** per partition, at most this many (the oldest are forgotten first) */
const MAX_PER_PARTITION = 20_000
/** a message missing from Redis and PostgreSQL is looked for again this often before it counts */
const PG_RETRIES = 4
const PG_RETRY_MS = 1500

type Acked = { conversationId: string; id: string; uid: string; at: number }

export type LostMessage = { conversationId: string; id: string; uid: string }

export function createAckLedger(deps: {
  redis: RedisClient
  sql: Sql | null
  partitions: number
  log: Logger
  /** called with the messages found lost in a check (metrics) */
  onLost: (partition: number, lost: readonly LostMessage[]) => void
  now?: () => number
  retryMs?: number
}) {
  const now = deps.now ?? Date.now
  const queues: { items: Acked[]; head: number }[] = Array.from({ length: deps.partitions }, () => ({ items: [], head: 0 }))

  const checking = new Map<number, Promise<LostMessage[]>>()

  function prune(q: { items: Acked[]; head: number }, t: number): void {
    const cutoff = t - LEDGER_MS
    while (q.head < q.items.length && ((q.items[q.head] as Acked).at < cutoff || q.items.length - q.head > MAX_PER_PARTITION)) q.head++
    if (q.head > 1024 && q.head * 2 > q.items.length) {
      q.items = q.items.slice(q.head)
      q.head = 0
    }
  }

  /** A message this node just acknowledged to its sender. */
  function record(accountId: string, conversationId: string, id: string, uid: string): void {
    const q = queues[partitionOf(accountId, deps.partitions)]
    if (q === undefined) return
    const t = now()
    q.items.push({ conversationId, id, uid, at: t })
    if ((q.items.length & 255) === 0) prune(q, t)
  }

  /**
   * Each message: still in its conversation log (by id, and the same message by uid), or `gap`
   * when the log lacks it although it holds older entries (Redis lost it: a log loses entries only
   * from its oldest end, by trimming), or `trimmed` (older than the log's oldest entry, or the log
   * is gone: trimmed or evicted, which only happens to archived entries, so the archive must hold it).
   */
  async function inRedis(p: number, items: readonly Acked[]): Promise<('here' | 'gap' | 'trimmed')[]> {
    const keys = keysFor(p)
    const convs = [...new Set(items.map((a) => a.conversationId))]
    const pipe = deps.redis.pipeline()
    for (const c of convs) pipe.xrange(keys.conversationLog(c), '-', '+', 'COUNT', 1)
    for (const a of items) pipe.xrange(keys.conversationLog(a.conversationId), a.id, a.id)
    const replies = (await pipe.exec()) ?? []
    const reply = (i: number) => {
      const [err, entries] = replies[i] ?? [new Error('no reply'), null]
      if (err !== null) throw err
      return (entries as [string, string[]][])[0]
    }
    const oldest = new Map(convs.map((c, i) => [c, reply(i)?.[0]]))
    return items.map((a, i) => {
      const entry = reply(convs.length + i)
      if (entry !== undefined && (entry[1][1] ?? '').includes(`"uid":"${a.uid}"`)) return 'here'
      const first = oldest.get(a.conversationId)
      return first !== undefined && compareStreamIds(first, a.id) <= 0 ? 'gap' : 'trimmed'
    })
  }

  /** The uids PostgreSQL holds among these (all of them when there is no archive to ask: unknown). */
  async function inArchive(uids: readonly string[]): Promise<Set<string> | null> {
    if (deps.sql === null) return null
    const rows = await deps.sql<{ uid: string }[]>`select uid from messages where uid = any(${uids as string[]})`
    return new Set(rows.map((r) => r.uid))
  }

  /**
   * After partition `p`'s subscription came back: which of the messages this node acknowledged
   * lately did Redis lose? Returns them (also reported through onLost and an ALARM log).
   */
  function check(p: number): Promise<LostMessage[]> {
    // one check per partition at a time, so nothing is counted twice
    const next = (checking.get(p) ?? Promise.resolve([])).catch(() => []).then(() => checkNow(p))
    checking.set(p, next)
    return next
  }

  async function checkNow(p: number): Promise<LostMessage[]> {
    const q = queues[p]
    if (q === undefined) return []
    // no pruning by time here: after a long outage the messages acknowledged before it are the point
    const items = q.items.slice(q.head)
    if (items.length === 0) return []
    const where = await inRedis(p, items)
    let missing = items.filter((_, i) => where[i] !== 'here')
    if (missing.length === 0) return []
    const gaps = new Set(items.filter((_, i) => where[i] === 'gap').map((m) => m.uid))
    let kept = 0
    for (let attempt = 0; missing.length > 0; attempt++) {
      const archived = await inArchive(missing.map((m) => m.uid))
      if (archived === null) {
        missing = missing.filter((m) => gaps.has(m.uid)) // no archive to ask: only a gap is surely lost
        break
      }
      kept += missing.filter((m) => archived.has(m.uid) && gaps.has(m.uid)).length
      missing = missing.filter((m) => !archived.has(m.uid))
      // the archiver may still be committing what it read before Redis lost it (or before trimming)
      if (attempt >= PG_RETRIES) break
      if (missing.length > 0) await new Promise((r) => setTimeout(r, deps.retryMs ?? PG_RETRY_MS))
    }
    // counted once: forget what was found lost
    const gone = new Set(missing.map((m) => m.uid))
    q.items = q.items.slice(q.head).filter((a) => !gone.has(a.uid))
    q.head = 0
    const lost = missing.map(({ conversationId, id, uid }) => ({ conversationId, id, uid }))
    if (lost.length > 0 || kept > 0) {
      deps.log.error(
        { partition: p, lost: lost.length, keptInArchive: kept, sample: lost.slice(0, 20) },
        'ALARM: Redis lost messages this node had acknowledged (a failover to a lagging replica or a lost AOF tail; REDIS_WAIT_REPLICAS=1 acknowledges only replicated writes)',
      )
    }
    if (lost.length > 0) deps.onLost(p, lost)
    return lost
  }

  return { record, check, size: (p: number) => (queues[p]?.items.length ?? 0) - (queues[p]?.head ?? 0) }
}

export type AckLedger = ReturnType<typeof createAckLedger>
