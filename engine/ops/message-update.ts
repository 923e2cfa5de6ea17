// message.update (edit, by its author, within MESSAGE_EDIT_WINDOW_MS) and message.delete (by its
// author or an administrator: content "" and contentAttributes {deleted: true}). Agents only. One
// script (lua/updateMessage-5.lua) does each change atomically; a message that has left the Redis hot
// tail is read from PostgreSQL first and handed to the script (engine/PROTOCOL.md "Editing and deleting").
import { json, updateMessageCall } from '../../lua/scripts.js'
import { parseStreamId } from '../conversations.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import type { ConnData } from '../connection.js'
import type { ClientFrame } from '../protocol.js'
import type { OpDeps } from './deps.js'
import { readContent } from './message-send.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

async function change(deps: OpDeps, conn: ConnData, frame: ClientFrame, action: 'edit' | 'delete') {
  if (conn.principal.kind !== 'agent') throw new AppError('forbidden', 'agents only')
  const agent = conn.principal.agent
  const conversationId = frame['conversationId']
  if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
  const messageId = parseStreamId(frame['messageId'], 'messageId')
  const content = action === 'edit' ? readContent(frame, deps.config.maxContentChars) : null
  if (!isId(conversationId, 'cv')) throw new AppError('not_found', 'no such conversation')
  const k = deps.reader.keysOf(conn.accountId)
  const call = (archived: string | null) => updateMessageCall(k, {
    conversationId, accountId: conn.accountId, agentId: agent.id, admin: agent.role === 'administrator',
    inboxes: deps.reader.agentInboxes(conn), messageId, action, content, windowMs: deps.config.messageEditWindowMs,
    now: deps.now(), uid: newUid(), hotTail: deps.hotTail, archived,
  })
  let reply = await deps.scripts.run(call(null))
  if (reply[0] === 3) {
    // neither in the hot tail nor edited before: only the archive can have it
    const archived = await deps.reader.archivedById(conn.accountId, conversationId, messageId)
    if (archived === null) throw new AppError('not_found', 'no such message')
    const { id: _id, ...stored } = archived
    reply = await deps.scripts.run(call(JSON.stringify(stored)))
  }
  if (reply[0] !== 1) throw scriptError(reply)
  return { message: json(reply, 1) }
}

export const messageUpdate: Op<OpDeps> = {
  roles: ['agent'],
  run: (deps, conn, frame) => change(deps, conn, frame, 'edit'),
}

export const messageDelete: Op<OpDeps> = {
  roles: ['agent'],
  run: (deps, conn, frame) => change(deps, conn, frame, 'delete'),
}
