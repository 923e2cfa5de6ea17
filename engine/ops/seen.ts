import { markSeenCall, json } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { isId, newUid } from '../ids.js'
import { contactConversationView } from '../views.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

/** read receipts published per `seen`, at most (older unread messages still show as read in history) */
const RECEIPT_CAP = 200
/** the log is scanned from this long before the previous seen time (node vs Redis clock skew) */
const CLOCK_SLACK_MS = 60_000

export const seen: Op<OpDeps> = {
  roles: ['agent', 'contact'],
  run: async (deps, conn, frame) => {
    const conversationId = frame['conversationId']
    if (typeof conversationId !== 'string') throw new AppError('bad_request', '`conversationId` must be a conversation id')
    if (!isId(conversationId, 'cv')) throw new AppError('not_found', 'no such conversation')
    const p = conn.principal
    const reply = await deps.scripts.run(markSeenCall(deps.reader.keysOf(conn.accountId), {
      conversationId, accountId: conn.accountId, role: p.kind,
      viewerId: p.kind === 'agent' ? p.agent.id : p.contactId,
      inboxId: p.kind === 'contact' ? p.inbox.id : null,
      inboxes: deps.reader.agentInboxes(conn),
      now: deps.now(), uid: newUid(), throttleMs: deps.config.seenThrottleMs, cap: RECEIPT_CAP, slackMs: CLOCK_SLACK_MS,
    }))
    if (reply[0] !== 1) throw scriptError(reply)
    const conversation = json(reply, 1)
    return { conversation: p.kind === 'contact' ? contactConversationView(conversation) : conversation }
  },
}
