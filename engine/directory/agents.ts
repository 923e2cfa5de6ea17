// Agents as the directory knows them: created with their token, inbox memberships and availability
// in one MULTI; found by id, by token, by inbox. Lifecycle changes (admin PATCH, removal, token
// rotation) are agent-admin.ts.
import { eventFields } from '../../lua/codec.js'
import { newId, newToken, newUid, sha256 } from '../ids.js'
import { tokenOwner, type DirectoryContext } from './context.js'
import { agentFrom, type AgentRecord, type Hash, type NewAgent } from './records.js'

export function createAgentDirectory(ctx: DirectoryContext, accountInboxIds: (accountId: string) => Promise<string[]>) {
  const { redis, keysOf, now } = ctx

  /** The inboxes whose conversations an agent sees: an administrator's are all of the account's. */
  async function visibleInboxIds(agent: AgentRecord): Promise<string[]> {
    return agent.role === 'administrator' ? accountInboxIds(agent.accountId) : agent.inboxIds
  }

  async function getAgent(accountId: string, agentId: string): Promise<AgentRecord | null> {
    const agent = agentFrom(await redis.hgetall(keysOf(accountId).agent(agentId)))
    return agent !== null && agent.accountId === accountId ? agent : null
  }

  async function listAgents(accountId: string): Promise<AgentRecord[]> {
    const k = keysOf(accountId)
    const ids = await redis.smembers(k.accountAgents(accountId))
    if (ids.length === 0) return []
    const pipe = redis.pipeline()
    for (const id of ids) pipe.hgetall(k.agent(id))
    const rows = (await pipe.exec()) ?? []
    return rows.map(([, h]) => agentFrom(h as Hash)).filter((a): a is AgentRecord => a !== null)
  }

  async function createAgent(accountId: string, input: NewAgent): Promise<{ agent: AgentRecord; token: string }> {
    const agent: AgentRecord = {
      id: newId('ag'),
      accountId,
      name: input.name,
      role: input.role,
      availability: 'online',
      inboxIds: input.inboxIds,
      maxConversations: input.maxConversations,
    }
    const token = newToken(accountId)
    const k = keysOf(accountId)
    const multi = redis.multi()
      .hset(k.agent(agent.id), {
        id: agent.id, accountId, name: agent.name, role: agent.role, availability: agent.availability,
        inboxIds: JSON.stringify(agent.inboxIds), maxConversations: agent.maxConversations === null ? '' : String(agent.maxConversations),
        createdAt: String(now()),
      })
      .sadd(k.accountAgents(accountId), agent.id)
      .hset(k.tokens, sha256(token), `agent:${agent.id}`)
      .hset(k.availability(accountId), agent.id, agent.availability)
    for (const inboxId of agent.inboxIds) multi.sadd(k.inboxAgents(inboxId), agent.id)
    multi.xadd(k.events, '*', ...eventFields('agent.created', accountId, newUid(), now(), agent))
    await multi.exec()
    return { agent, token }
  }

  /** The agent a bearer token belongs to, or null. */
  async function findAgentByToken(token: string): Promise<AgentRecord | null> {
    const owner = await tokenOwner(ctx, token, 'agent')
    return owner === null ? null : getAgent(owner.accountId, owner.id)
  }

  async function inboxAgentIds(accountId: string, inboxId: string): Promise<string[]> {
    return redis.smembers(keysOf(accountId).inboxAgents(inboxId))
  }

  return { visibleInboxIds, getAgent, listAgents, createAgent, findAgentByToken, inboxAgentIds }
}
