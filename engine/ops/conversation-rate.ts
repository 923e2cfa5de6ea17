import { rateConversationCall, json } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import { optString } from '../validate.js'
import { contactConversationView } from '../views.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

export const conversationRate: Op<OpDeps> = {
  roles: ['contact'],
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'contact') throw new AppError('forbidden', 'contacts only')
    const conversationId = frame['conversationId']
    if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
    const score = frame['score']
    if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 5) throw new AppError('bad_request', '`score` must be an integer from 1 to 5')
    const comment = frame['comment'] === null ? null : (optString(frame, 'comment', 2000) ?? null)
    if (!isId(conversationId, 'cv')) throw new AppError('not_found', 'no such conversation')
    const { contactId, inbox } = conn.principal
    const reply = await deps.scripts.run(rateConversationCall(deps.reader.keysOf(conn.accountId), {
      conversationId, accountId: conn.accountId, contactId, inboxId: inbox.id, score,
      comment: comment === null || comment.trim() === '' ? null : comment, now: deps.now(), uid: newUid(),
    }))
    if (reply[0] !== 1) throw scriptError(reply)
    return { conversation: contactConversationView(json(reply, 1)) }
  },
}
