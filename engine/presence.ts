// Presence as read by the engine: an agent is online while any of its connections (on any node)
// has heartbeated within the grace window. Each node refreshes its own connections' scores.
import type { Redis } from 'ioredis'
import { keysFor, partitionOf } from '../lua/keys.js'

export function createPresence(deps: { redis: Redis; partitions: number; graceMs: number; now?: () => number }) {
  const { redis, partitions, graceMs } = deps
  const now = deps.now ?? Date.now
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, partitions))
  /** live local agent connections: member "<agentId>|<connId>" by account */
  const local = new Map<string, Set<string>>()

  async function connect(accountId: string, agentId: string, connId: string): Promise<void> {
    const k = keysOf(accountId)
    const t = now()
    const member = `${agentId}|${connId}`
    let set = local.get(accountId)
    if (set === undefined) local.set(accountId, (set = new Set()))
    set.add(member)
    await redis.multi().zadd(k.agentConnections(accountId), t, member).zadd(k.presence(accountId), t, agentId).exec()
  }

  async function disconnect(accountId: string, agentId: string, connId: string): Promise<void> {
    const member = `${agentId}|${connId}`
    local.get(accountId)?.delete(member)
    await redis.zrem(keysOf(accountId).agentConnections(accountId), member)
  }

  /** Refreshes every local connection's heartbeat (called on the server's ping cycle). */
  async function heartbeat(): Promise<void> {
    if (local.size === 0) return
    const t = now()
    const pipe = redis.pipeline()
    for (const [accountId, members] of local) {
      const k = keysOf(accountId)
      for (const member of members) {
        pipe.zadd(k.agentConnections(accountId), t, member)
        pipe.zadd(k.presence(accountId), t, member.slice(0, member.indexOf('|')))
      }
    }
    await pipe.exec()
  }

  async function onlineAgentIds(accountId: string, agentIds: readonly string[]): Promise<Set<string>> {
    if (agentIds.length === 0) return new Set()
    const scores = await redis.zmscore(keysOf(accountId).presence(accountId), ...agentIds)
    const since = now() - graceMs
    return new Set(agentIds.filter((_, i) => {
      const s = scores[i]
      return s !== null && s !== undefined && Number(s) > since
    }))
  }

  /** Is any inbox member connected and `availability: online`? (the widget's `agentsOnline`) */
  async function inboxHasAgentsOnline(accountId: string, inboxId: string): Promise<boolean> {
    const k = keysOf(accountId)
    const members = await redis.smembers(k.inboxAgents(inboxId))
    if (members.length === 0) return false
    const online = await onlineAgentIds(accountId, members)
    if (online.size === 0) return false
    const ids = [...online]
    const availability = await redis.hmget(k.availability(accountId), ...ids)
    return availability.some((a) => a === null || a === 'online')
  }

  return { connect, disconnect, heartbeat, onlineAgentIds, inboxHasAgentsOnline }
}

export type Presence = ReturnType<typeof createPresence>
