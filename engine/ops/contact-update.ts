import { createContactUpdater, readContactUpdate } from '../directory/contact-update.js'
import { AppError } from '../errors.js'
import type { OpDeps } from './deps.js'
import type { Op } from './types.js'

export const contactUpdate: Op<OpDeps> = {
  roles: ['contact'],
  run: async (deps, conn, frame) => {
    if (conn.principal.kind !== 'contact') throw new AppError('forbidden', 'contacts only')
    const patch = readContactUpdate(frame)
    const updater = createContactUpdater({ redis: deps.redis, directory: deps.directory, partitions: deps.config.partitions, now: deps.now })
    const contact = await updater.update(conn.accountId, conn.principal.contactId, patch)
    if (contact === null) throw new AppError('not_found', 'no such contact')
    return { contact }
  },
}
