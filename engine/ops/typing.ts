import { AppError } from '../errors.js'
import { publishMethod } from '../../lua/client.js'
import { encodeNotice } from '../../lua/codec.js'
import type { OpDeps } from './deps.js'
import type { Op } from './types.js'

/** Typing goes to the other side and the other agents; it is not stored. */
export const typing: Op<OpDeps> = {
  roles: ['agent', 'contact'],
  readOnly: true,
  run: async (deps, conn, frame) => {
    const on = frame['on']
    if (typeof on !== 'boolean') throw new AppError('bad_request', '`on` must be a boolean')
    const c = await deps.reader.reachable(conn, frame['conversationId'])
    const sender = conn.principal.kind === 'agent' ? { type: 'agent', id: conn.principal.agent.id } : { type: 'contact', id: conn.principal.contactId }
    const notice = encodeNotice({ t: 'typing', a: conn.accountId, i: c.inboxId, c: c.contactId, p: 0, x: conn.id }, { conversationId: c.id, on, sender })
    await deps.redis[publishMethod(deps.redis)](deps.reader.keysOf(conn.accountId).fanout, notice)
    return {}
  },
}
