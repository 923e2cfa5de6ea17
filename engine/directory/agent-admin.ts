// Agent lifecycle for the admin API: profile and membership changes, removal, token rotation.
// Every change is written with its partition event in one MULTI (as the directory does) and told to
// every engine node with a control notice on the partition fan-out channel, so live sockets follow
// at once: a changed agent's sockets take the new role and inboxes (their inbox subscriptions
// follow), a removed agent's sockets and sockets on a rotated token are closed with 4001.
// Conversations an agent can no longer see (removed from their inbox, or removed altogether) are
// unassigned, with an activity message, and go round robin again where the inbox auto-assigns:
// a customer must never wait on an assignee who cannot open the conversation.
import { publishMethod, type RedisClient as Redis } from '../../lua/client.js'
import { eventFields } from '../../lua/codec.js'
import { keysFor, partitionOf, type PartitionKeys } from '../../lua/keys.js'
import { assignConversationCall, type Scripts } from '../../lua/scripts.js'
import type { Assignment } from '../assignment.js'
import { AGENT_CONTROL, controlNotice } from '../control.js'
import { applyPatch, type AgentRecord, type Directory } from './index.js'
import { AppError } from '../errors.js'
import { newToken, newUid, sha256 } from '../ids.js'
import type { Logger } from '../log.js'
import type { AgentRole } from '../protocol.js'

export type AgentPatch = { name?: string; role?: AgentRole; inboxIds?: string[]; maxConversations?: number | null }

/** Actor of the activity messages written when an agent loses a conversation. */
const ADMIN_ACTOR = { actorId: '', actorName: 'an administrator' }
const UNASSIGNABLE = ['open', 'pending', 'snoozed'] as const

export function createAgentAdmin(deps: {
  redis: Redis; scripts: Scripts; directory: Directory; assignment: Assignment; partitions: number; hotTail: number
  now: () => number; log: Logger
}) {
  const { redis, directory } = deps
  const keysOf = (accountId: string): PartitionKeys => keysFor(partitionOf(accountId, deps.partitions))

  async function existing(accountId: string, agentId: string): Promise<AgentRecord> {
    const agent = await directory.getAgent(accountId, agentId)
    if (agent === null) throw new AppError('not_found', 'no such agent')
    return agent
  }

  /** The token hashes that authenticate an agent (one, unless tokens were written by hand). */
  async function tokenHashes(k: PartitionKeys, agentId: string): Promise<string[]> {
    const owner = `agent:${agentId}`
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, flat] = await redis.hscan(k.tokens, cursor, 'COUNT', 1000)
      cursor = next
      for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i + 1] === owner) found.push(flat[i] as string)
    } while (cursor !== '0')
    return found
  }

  /**
   * Unassigns the agent's open, pending and snoozed conversations in `inboxIds` (compare-and-set:
   * one reassigned meanwhile stays), then offers each open one to round robin where the inbox
   * auto-assigns. Returns how many were unassigned.
   */
  async function release(accountId: string, agentId: string, inboxIds: readonly string[]): Promise<number> {
    if (inboxIds.length === 0) return 0
    const k = keysOf(accountId)
    const candidates: string[] = []
    const lists = redis.pipeline()
    for (const inboxId of inboxIds) for (const st of UNASSIGNABLE) lists.zrange(k.inboxStatusList(inboxId, st), '0', '-1')
    for (const [, ids] of (await lists.exec()) ?? []) candidates.push(...(ids as string[]))
    if (candidates.length === 0) return 0
    const read = redis.pipeline()
    for (const id of candidates) read.hmget(k.conversation(id), 'assigneeId', 'inboxId')
    const owned = ((await read.exec()) ?? [])
      .map(([, v], i) => ({ id: candidates[i] as string, assignee: (v as (string | null)[])[0], inboxId: (v as (string | null)[])[1] }))
      .filter((c) => c.assignee === agentId && c.inboxId !== null)
    const autoAssign = new Map<string, boolean>()
    let released = 0
    for (const c of owned) {
      const inboxId = c.inboxId as string
      const reply = await deps.scripts.run(assignConversationCall(k, {
        conversationId: c.id, inboxId, accountId, inboxes: null, ...ADMIN_ACTOR, assigneeId: '', expectedAssigneeId: agentId,
        now: deps.now(), uid: newUid(), hotTail: deps.hotTail,
      }))
      if (reply[0] !== 1) continue
      released++
      if (!autoAssign.has(inboxId)) autoAssign.set(inboxId, (await directory.getInbox(accountId, inboxId))?.autoAssign === true)
      if (autoAssign.get(inboxId) === true) await deps.assignment.autoAssign(accountId, inboxId, c.id)
    }
    return released
  }

  async function update(accountId: string, agentId: string, patch: AgentPatch): Promise<{ agent: AgentRecord; released: number }> {
    const current = await existing(accountId, agentId)
    const k = keysOf(accountId)
    const { next, changed } = applyPatch(current, patch, ['name', 'role', 'inboxIds', 'maxConversations'])
    if (changed.length === 0) return { agent: current, released: 0 }
    const removed = current.inboxIds.filter((id) => !next.inboxIds.includes(id))
    const added = next.inboxIds.filter((id) => !current.inboxIds.includes(id))
    const ts = deps.now()
    const multi = redis.multi().hset(k.agent(agentId), {
      name: next.name, role: next.role, inboxIds: JSON.stringify(next.inboxIds),
      maxConversations: next.maxConversations === null ? '' : String(next.maxConversations), updatedAt: String(ts),
    })
    for (const id of removed) multi.srem(k.inboxAgents(id), agentId)
    for (const id of added) multi.sadd(k.inboxAgents(id), agentId)
    multi.xadd(k.events, '*', ...eventFields('agent.updated', accountId, newUid(), ts, { agent: next, changed }))
    multi[publishMethod(redis)](k.fanout, controlNotice(AGENT_CONTROL, accountId, { agentId, revoked: false, inboxIds: [...removed, ...added] }))
    await multi.exec()
    // conversations in inboxes it no longer sees (an administrator sees them all) lose it as assignee
    const sees = new Set(await directory.visibleInboxIds(next))
    const released = await release(accountId, agentId, (await directory.visibleInboxIds(current)).filter((id) => !sees.has(id)))
    // more room or more inboxes: conversations waiting in a queue may be theirs now
    if (added.length > 0 || changed.includes('maxConversations')) await deps.assignment.onAgentAvailable(accountId, agentId)
    return { agent: next, released }
  }

  async function remove(accountId: string, agentId: string): Promise<{ released: number }> {
    const agent = await existing(accountId, agentId)
    const k = keysOf(accountId)
    const tokens = await tokenHashes(k, agentId)
    const ts = deps.now()
    const multi = redis.multi()
      .hset(k.agent(agentId), 'removedAt', String(ts))
      .srem(k.accountAgents(accountId), agentId)
    for (const id of agent.inboxIds) multi.srem(k.inboxAgents(id), agentId)
    if (tokens.length > 0) multi.hdel(k.tokens, ...tokens)
    multi.xadd(k.events, '*', ...eventFields('agent.removed', accountId, newUid(), ts, { id: agentId, accountId }))
    multi[publishMethod(redis)](k.fanout, controlNotice(AGENT_CONTROL, accountId, { agentId, revoked: true, inboxIds: agent.inboxIds }))
    await multi.exec()
    return { released: await release(accountId, agentId, await directory.visibleInboxIds(agent)) }
  }

  /** A new token; the old ones stop working and the sockets opened with them are closed. */
  async function rotateToken(accountId: string, agentId: string): Promise<string> {
    await existing(accountId, agentId)
    const k = keysOf(accountId)
    const old = await tokenHashes(k, agentId)
    const token = newToken(accountId)
    const multi = redis.multi()
    if (old.length > 0) multi.hdel(k.tokens, ...old)
    multi.hset(k.tokens, sha256(token), `agent:${agentId}`)
    multi[publishMethod(redis)](k.fanout, controlNotice(AGENT_CONTROL, accountId, { agentId, revoked: true }))
    await multi.exec()
    return token
  }

  return { update, remove, rotateToken }
}

export type AgentAdmin = ReturnType<typeof createAgentAdmin>
