// presence.set, agents.list and conversation.assign: the agent-facing side of presence and assignment.
import { RateLimiterRes } from 'rate-limiter-flexible'
import { assignConversationCall, json, setAvailabilityCall } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import { oneOf } from '../validate.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

export const presenceSet: Op<OpDeps> = {
  roles: ['agent'],
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'agent') throw new AppError('forbidden', 'agents only')
    const availability = oneOf(frame, 'availability', ['online', 'busy', 'offline'] as const)
    if (availability === undefined) throw new AppError('bad_request', '`availability` is required: online, busy or offline')
    const agent = conn.principal.agent
    const r = await deps.scripts.run(setAvailabilityCall(deps.reader.keysOf(conn.accountId), {
      accountId: conn.accountId, agentId: agent.id, availability, now: deps.now(), graceMs: deps.config.presenceGraceMs, uid: newUid(),
    }))
    if (r[0] !== 1) throw scriptError(r)
    if (availability === 'online' && r[2] === 1) await deps.assignment.onAgentAvailable(conn.accountId, agent.id)
    return { agent: { ...agent, availability, online: r[1] === 1 } }
  },
}

export const agentsList: Op<OpDeps> = {
  roles: ['agent'],
  readOnly: true,
  run: async (deps, conn) => {
    const agents = await deps.directory.listAgents(conn.accountId)
    const ids = agents.map((a) => a.id)
    const [online, availability] = await Promise.all([
      deps.presence.onlineAgentIds(conn.accountId, ids), deps.presence.availabilityOf(conn.accountId, ids),
    ])
    return {
      agents: agents.map((a) => ({ ...a, availability: availability.get(a.id) ?? a.availability, online: online.has(a.id) }))
        .sort((x, y) => x.name.localeCompare(y.name)),
    }
  },
}

export const conversationAssign: Op<OpDeps> = {
  roles: ['agent'],
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'agent') throw new AppError('forbidden', 'agents only')
    const actor = conn.principal.agent
    const target = frame['assigneeId']
    if (target === undefined) throw new AppError('bad_request', '`assigneeId` is required: an agent id, null or "auto"')
    if (target !== null && target !== 'auto' && !isId(target, 'ag')) {
      if (typeof target !== 'string') throw new AppError('bad_request', '`assigneeId` must be an agent id, null or "auto"')
      throw new AppError('forbidden', 'that agent is not a member of this inbox')
    }
    const expected = frame['expectedAssigneeId']
    if (expected !== undefined && expected !== null && typeof expected !== 'string') throw new AppError('bad_request', '`expectedAssigneeId` must be an agent id or null')
    try {
      await deps.assignLimiter.consume(actor.id)
    } catch (rej) {
      if (rej instanceof RateLimiterRes) throw new AppError('rate_limited', 'too many reassignments, slow down', { retryAfterMs: rej.msBeforeNext })
      throw rej
    }
    const c = await deps.reader.reachable(conn, frame['conversationId'])
    const k = deps.reader.keysOf(conn.accountId)
    const manual = async (assigneeId: string) => {
      const r = await deps.scripts.run(assignConversationCall(k, {
        conversationId: c.id, inboxId: c.inboxId, accountId: conn.accountId, inboxes: deps.reader.agentInboxes(conn),
        actorId: actor.id, actorName: actor.name, assigneeId,
        expectedAssigneeId: expected === undefined ? null : (expected ?? ''), now: deps.now(), uid: newUid(), hotTail: deps.hotTail,
      }))
      if (r[0] !== 1 && r[0] !== 2) throw scriptError(r)
      return json(r, 1)
    }
    if (target !== 'auto') return { conversation: await manual(target ?? '') }
    // "auto": release the current assignee (compare-and-set when asked), then round robin
    if (c['assigneeId'] !== null || expected !== undefined) await manual('')
    const r = await deps.assignment.autoAssign(conn.accountId, c.inboxId, c.id)
    if (typeof r[0] !== 'number' || r[0] < 0) throw scriptError(r)
    return { conversation: json(r, 1) }
  },
}
