import { setConversationStatusCall, json, type ConversationStatus } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import { assignReopened } from '../reopen.js'
import { oneOf } from '../validate.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

const STATUSES: readonly ConversationStatus[] = ['open', 'pending', 'snoozed', 'resolved']

/** `snoozedUntil`: required (a future ms time) for snoozed, absent or null otherwise. */
function readSnoozedUntil(frame: Readonly<Record<string, unknown>>, status: ConversationStatus, now: number): number | null {
  const v = frame['snoozedUntil']
  if (status !== 'snoozed') {
    if (v !== undefined && v !== null) throw new AppError('bad_request', '`snoozedUntil` is only for status snoozed')
    return null
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new AppError('bad_request', '`snoozedUntil` (ms since the epoch) is required for status snoozed')
  if (v <= now) throw new AppError('bad_request', '`snoozedUntil` must be in the future')
  if (v > 8_640_000_000_000_000) throw new AppError('bad_request', '`snoozedUntil` is out of range')
  return v
}

export const conversationStatus: Op<OpDeps> = {
  roles: ['agent'],
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'agent') throw new AppError('forbidden', 'agents only')
    const conversationId = frame['conversationId']
    if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
    const status = oneOf(frame, 'status', STATUSES)
    if (status === undefined) throw new AppError('bad_request', '`status` is required: one of open, pending, snoozed, resolved')
    const now = deps.now()
    const snoozedUntil = readSnoozedUntil(frame, status, now)
    if (!isId(conversationId, 'cv')) throw new AppError('not_found', 'no such conversation')
    const { agent } = conn.principal
    const reply = await deps.scripts.run(setConversationStatusCall(deps.reader.keysOf(conn.accountId), {
      conversationId, accountId: conn.accountId, inboxes: deps.reader.agentInboxes(conn), agentId: agent.id, agentName: agent.name,
      status, snoozedUntil, now, uid: newUid(), hotTail: deps.hotTail,
    }))
    if (reply[0] !== 1 && reply[0] !== 2) throw scriptError(reply)
    const conversation = json(reply, 1)
    if (reply[0] === 1 && status === 'open') {
      const assigned = await assignReopened(deps, { id: conversationId, accountId: conn.accountId, inboxId: String(conversation['inboxId']), assigneeId: conversation['assigneeId'] })
      if (assigned !== null) return { conversation: assigned }
    }
    return { conversation }
  },
}
