// Auto assignment around the round-robin scripts: assign at creation and reopen, drain the inbox
// queues when an agent comes online or becomes available, and sweep every queue periodically so
// capacity freed by a resolve (or anything else) is used within one sweep interval.
import type { RedisClient as Redis } from '../lua/client.js'
import { keysFor, partitionOf } from '../lua/keys.js'
import type { Scripts } from '../lua/scripts.js'
import { autoAssign as assignOne, drainQueue } from '../lua/sweeps.js'
import type { Directory } from './directory/index.js'
import { newUid } from './ids.js'
import type { Logger } from './log.js'

export function createAssignment(deps: {
  redis: Redis; scripts: Scripts; directory: Directory; partitions: number; graceMs: number; hotTail: number
  now: () => number; log: Logger
}) {
  const { scripts, partitions } = deps
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, partitions))

  /** Round robin for one conversation; resolves to the script reply (1 assigned, 3 queued, 0 no-op). */
  async function autoAssign(accountId: string, inboxId: string, conversationId: string): Promise<unknown[]> {
    return assignOne(scripts, keysOf(accountId), {
      conversationId, inboxId, accountId, now: deps.now(), graceMs: deps.graceMs, uid: newUid(), hotTail: deps.hotTail,
    })
  }

  async function drainInbox(accountId: string, inboxId: string): Promise<number> {
    const r = await drainQueue(scripts, keysOf(accountId), {
      inboxId, accountId, now: deps.now(), graceMs: deps.graceMs, uid: newUid(), hotTail: deps.hotTail, limit: 100,
    })
    return Number(r[1])
  }

  async function onAgentAvailable(accountId: string, agentId: string): Promise<void> {
    const agent = await deps.directory.getAgent(accountId, agentId)
    for (const inboxId of agent?.inboxIds ?? []) await drainInbox(accountId, inboxId)
  }

  /** Every partition's non-empty queues. */
  async function sweep(): Promise<number> {
    let assigned = 0
    for (let p = 0; p < partitions; p++) {
      const k = keysFor(p)
      const inboxIds = await deps.redis.smembers(k.queues)
      for (const inboxId of inboxIds) {
        const accountId = await deps.redis.hget(k.inbox(inboxId), 'accountId')
        if (accountId === null) {
          await deps.redis.srem(k.queues, inboxId)
          continue
        }
        assigned += await drainInbox(accountId, inboxId)
      }
    }
    return assigned
  }

  return { autoAssign, drainInbox, onAgentAvailable, sweep }
}

export type Assignment = ReturnType<typeof createAssignment>
