import { updateConversationCall, json, type UpdateConversationInput } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import { optNullableString, optObject } from '../validate.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const

/** `priority`: absent = keep, null = none, else one of PRIORITIES. */
function readPriority(frame: Readonly<Record<string, unknown>>): string | null | undefined {
  const v = frame['priority']
  if (v === undefined || v === null) return v
  if (typeof v !== 'string' || !(PRIORITIES as readonly string[]).includes(v)) throw new AppError('bad_request', '`priority` must be null or one of low, medium, high, urgent')
  return v
}

export const conversationUpdate: Op<OpDeps> = {
  roles: ['agent'],
  run: async (deps, conn, frame) => {
    const conversationId = frame['conversationId']
    if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
    const input: UpdateConversationInput = {
      conversationId, accountId: conn.accountId, inboxes: deps.reader.agentInboxes(conn), now: deps.now(), uid: newUid(),
    }
    const priority = readPriority(frame)
    if (priority !== undefined) input.priority = priority
    const customAttributes = optObject(frame, 'customAttributes', 16_384)
    if (customAttributes !== undefined) input.customAttributes = customAttributes
    const branch = optNullableString(frame, 'branch', 255)
    if (branch !== undefined) input.branch = branch
    const region = optNullableString(frame, 'region', 255)
    if (region !== undefined) input.region = region
    if (!isId(conversationId, 'cv')) throw new AppError('not_found', 'no such conversation')
    const reply = await deps.scripts.run(updateConversationCall(deps.reader.keysOf(conn.accountId), input))
    if (reply[0] !== 1 && reply[0] !== 2) throw scriptError(reply)
    return { conversation: json(reply, 1) }
  },
}
