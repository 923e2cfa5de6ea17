// history, resume, conversation.get: reads that never write.
import { AppError } from '../errors.js'
import { parseStreamId } from '../conversations.js'
import { optInt } from '../validate.js'
import { contactConversationView } from '../views.js'
import type { OpDeps } from './deps.js'
import type { Op } from './types.js'

export const history: Op<OpDeps> = {
  roles: ['agent', 'contact'],
  readOnly: true,
  run: async (deps, conn, frame) => {
    const c = await deps.reader.reachable(conn, frame['conversationId'])
    const before = frame['before'] === undefined || frame['before'] === null ? null : parseStreamId(frame['before'], 'before')
    const limit = optInt(frame, 'limit', 1, 200) ?? 50
    return deps.reader.history(conn, c, before, limit)
  },
}

export const resume: Op<OpDeps> = {
  roles: ['agent', 'contact'],
  readOnly: true,
  run: async (deps, conn, frame) => {
    const c = await deps.reader.reachable(conn, frame['conversationId'])
    if (frame['after'] === undefined) throw new AppError('bad_request', '`after` is required')
    return deps.reader.resume(conn, c, parseStreamId(frame['after'], 'after'))
  },
}

/** Contacts may read their own conversations, in the contact's view (what a reconnecting widget resyncs from). */
export const conversationGet: Op<OpDeps> = {
  roles: ['agent', 'contact'],
  readOnly: true,
  run: async (deps, conn, frame) => {
    const { msgCount: _m, updCount: _u, ...conversation } = await deps.reader.reachable(conn, frame['conversationId'])
    return { conversation: conn.role === 'contact' ? contactConversationView(conversation) : conversation }
  },
}
