// Presence as the engine drives it (OnlineStatusTracker; the state lives in Redis, kept by Lua):
// connections heartbeat on connect and on the server's ping cycle, batched per agent; an agent is
// online while any of its connections on any node heartbeats within the grace window; the sweeper
// takes agents offline after it. Disconnecting removes only that connection's entry.
import type { RedisClient as Redis } from '../lua/client.js'
import { keysFor, partitionOf } from '../lua/keys.js'
import { presenceBeatCall, type Scripts } from '../lua/scripts.js'
import { presenceSweep } from '../lua/sweeps.js'

export function createPresence(deps: {
  redis: Redis; scripts: Scripts; partitions: number; graceMs: number; now?: () => number
  onOnline?: (accountId: string, agentId: string) => void
}) {
  const { redis, partitions, graceMs } = deps
  const now = deps.now ?? Date.now
  const keysOf = (accountId: string) => keysFor(partitionOf(accountId, partitions))
  /** live local agent connections: account -> agent -> connection ids */
  const local = new Map<string, Map<string, Set<string>>>()

  async function beat(accountId: string, agentId: string, connIds: string[]): Promise<void> {
    const r = await deps.scripts.run(presenceBeatCall(keysOf(accountId), { accountId, agentId, connIds, now: now(), graceMs }))
    if (r[0] === 1) deps.onOnline?.(accountId, agentId)
  }

  async function connect(accountId: string, agentId: string, connId: string): Promise<void> {
    let agents = local.get(accountId)
    if (agents === undefined) local.set(accountId, (agents = new Map()))
    let conns = agents.get(agentId)
    if (conns === undefined) agents.set(agentId, (conns = new Set()))
    conns.add(connId)
    await beat(accountId, agentId, [connId])
  }

  async function disconnect(accountId: string, agentId: string, connId: string): Promise<void> {
    const agents = local.get(accountId)
    const conns = agents?.get(agentId)
    conns?.delete(connId)
    if (conns?.size === 0) agents?.delete(agentId)
    if (agents?.size === 0) local.delete(accountId)
    await redis.zrem(keysOf(accountId).agentConnections(accountId), `${agentId}|${connId}`)
  }

  /** Refreshes every local connection (one script call per agent, not per connection). */
  async function heartbeat(): Promise<void> {
    const calls: Promise<void>[] = []
    for (const [accountId, agents] of local) {
      for (const [agentId, conns] of agents) calls.push(beat(accountId, agentId, [...conns]))
    }
    await Promise.all(calls)
  }

  /** Takes agents past the grace window offline, in every partition. */
  async function sweep(): Promise<number> {
    let offline = 0
    for (let p = 0; p < partitions; p++) {
      const r = await presenceSweep(deps.scripts, keysFor(p), { now: now(), graceMs, limit: 500 })
      offline += Number(r[1])
    }
    return offline
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

  async function availabilityOf(accountId: string, agentIds: readonly string[]): Promise<Map<string, string>> {
    if (agentIds.length === 0) return new Map()
    const values = await redis.hmget(keysOf(accountId).availability(accountId), ...agentIds)
    return new Map(agentIds.map((id, i) => [id, values[i] ?? 'online']))
  }

  /** Is any inbox member connected and `availability: online`? (the widget's `agentsOnline`) */
  async function inboxHasAgentsOnline(accountId: string, inboxId: string): Promise<boolean> {
    const members = await redis.smembers(keysOf(accountId).inboxAgents(inboxId))
    const online = [...(await onlineAgentIds(accountId, members))]
    const availability = await availabilityOf(accountId, online)
    return online.some((id) => availability.get(id) === 'online')
  }

  return { connect, disconnect, heartbeat, sweep, onlineAgentIds, availabilityOf, inboxHasAgentsOnline }
}

export type Presence = ReturnType<typeof createPresence>
