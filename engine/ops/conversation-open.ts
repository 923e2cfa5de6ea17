import { createConversationCall, json } from '../../lua/scripts.js'
import { AppError } from '../errors.js'
import { newId, newUid } from '../ids.js'
import { optObject } from '../validate.js'
import type { OpDeps } from './deps.js'
import { scriptError } from './script-status.js'
import type { Op } from './types.js'

export const conversationOpen: Op<OpDeps> = {
  roles: ['contact'],
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'contact') throw new AppError('forbidden', 'contacts only')
    const additional = optObject(frame, 'additionalAttributes', 8192) ?? {}
    const { contactId, inbox } = conn.principal
    const reply = await deps.scripts.run(createConversationCall(deps.reader.keysOf(conn.accountId), {
      id: newId('cv'), accountId: conn.accountId, inboxId: inbox.id, contactId, now: deps.now(), uid: newUid(),
      additionalAttributes: JSON.stringify(additional),
    }))
    if (reply[0] !== 1 && reply[0] !== 2) throw scriptError(reply)
    const conversation = json(reply, 1)
    if (reply[0] === 1 && inbox.autoAssign) {
      // round robin at once; when nobody qualifies it waits in the inbox queue (reply 3)
      const assigned = await deps.assignment.autoAssign(conn.accountId, inbox.id, conversation['id'] as string)
      if (assigned[0] === 1) return { conversation: json(assigned, 1) }
    }
    return { conversation }
  },
}
