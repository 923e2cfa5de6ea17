import { appendMessageCall, json } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import { oneOf, optBool, optObject, reqString } from '../validate.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

/** how long a repeated echoId / sourceId returns the first message (engine/PROTOCOL.md) */
export const DEDUPE_TTL_MS = 86_400_000
export const SOURCE_TTL_MS = 7 * 86_400_000
/** retry hint when a repeated echoId's first message has left the hot tail and is not archived yet */
const ECHO_RETRY_MS = 1000

export const CONTENT_TYPES = ['text', 'input_text', 'input_textarea', 'input_email', 'input_select', 'cards', 'form', 'article', 'input_csat'] as const

/** Checks content against the limit; JS string length (UTF-16 code units) is what counts as characters. */
export function readContent(frame: Readonly<Record<string, unknown>>, maxChars: number): string {
  const content = frame['content']
  if (typeof content !== 'string') throw new AppError('bad_request', '`content` must be a string')
  if (content.length > maxChars) throw new AppError('too_large', `\`content\` is over ${maxChars} characters`)
  if (content.trim().length === 0) throw new AppError('bad_request', '`content` must not be empty')
  return content
}

export const messageSend: Op<OpDeps> = {
  roles: ['agent', 'contact'],
  run: async (deps, conn, frame) => {
    const conversationId = frame['conversationId']
    if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
    if (!isId(conversationId, 'cv')) throw new AppError('not_found', 'no such conversation')
    const content = readContent(frame, deps.config.maxContentChars)
    // required (shared/docs/PROTOCOL.md): without it a re-send after a lost reply would duplicate
    if (frame['echoId'] === undefined || frame['echoId'] === null) {
      throw new AppError('bad_request', '`echoId` is required: the client\'s own id for this message (re-send with the same one)')
    }
    const echoId = reqString(frame, 'echoId', 128)
    const contentType = oneOf(frame, 'contentType', CONTENT_TYPES) ?? 'text'
    const contentAttributes = optObject(frame, 'contentAttributes', 16_384) ?? {}
    const isPrivate = optBool(frame, 'private') ?? false
    const contact = conn.principal.kind === 'contact' ? conn.principal : null
    if (contact !== null && isPrivate) throw new AppError('forbidden', 'private notes are for agents only')
    const uid = newUid()
    const senderId = contact !== null ? contact.contactId : conn.principal.kind === 'agent' ? conn.principal.agent.id : ''
    const reply = await deps.scripts.run(appendMessageCall(deps.reader.keysOf(conn.accountId), {
      conversationId, inboxId: null, accountId: conn.accountId,
      senderType: contact !== null ? 'contact' : 'agent', senderId,
      inboxes: contact !== null ? null : deps.reader.agentInboxes(conn),
      content, contentType, contentAttributes: JSON.stringify(contentAttributes), private: isPrivate, echoId, sourceId: null,
      now: deps.now(), uid, reopenUid: newUid(),
      floodLimit: contact !== null ? contact.inbox.messagesPerMinute : 0,
      hotTail: deps.hotTail, dedupeTtlMs: DEDUPE_TTL_MS, sourceTtlMs: SOURCE_TTL_MS,
      brief: true, // the ack is the message; of the conversation only the hint and the assignee are read
    }))
    if (reply[0] === 3) {
      // a repeat whose first message has left the Redis hot tail: PostgreSQL has it once archived
      const first = await deps.reader.archivedEcho(conn.accountId, conversationId, String(reply[1]), echoId)
      if (first === null) {
        throw new AppError('unavailable', 'this echoId was used for a message that is not yet archived; send it again shortly', { retryAfterMs: ECHO_RETRY_MS })
      }
      return { message: await deps.reader.currentVersion(conn.accountId, conversationId, first) }
    }
    if (reply[0] !== 1 && reply[0] !== 2) throw scriptError(reply)
    // a conversation reopened by the contact with nobody assigned goes round robin again
    if (reply[0] === 1 && reply[3] === 1 && contact !== null && contact.inbox.autoAssign) {
      const conv = json(reply, 2)
      if (conv['assigneeId'] === null) await deps.assignment.autoAssign(conn.accountId, contact.inbox.id, conversationId)
    }
    const message = json(reply, 1)
    if (reply[0] === 1 && typeof message['id'] === 'string') deps.acked?.record(conn.accountId, conversationId, message['id'], uid)
    // a repeated echoId answers with the message as it now is (edited or deleted since: same id)
    if (reply[0] === 2 && typeof message['id'] === 'string') return { message: await deps.reader.currentVersion(conn.accountId, conversationId, message as { id: string }) }
    return { message }
  },
}
