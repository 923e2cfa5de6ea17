// search (agents): {q, inboxId?, status?, cursor?, limit?} → {results: [{conversation, message?}], cursor}
// over the conversations the agent may see (engine/search/search.ts).
import { AppError } from '../errors.js'
import type { OpDeps } from './deps.js'
import type { Op } from './types.js'

export const search: Op<OpDeps> = {
  roles: ['agent'],
  readOnly: true,
  run: async (deps, conn, frame) => {
    if (deps.search === undefined) throw new AppError('unavailable', 'search needs PostgreSQL: set DATABASE_URL')
    return deps.search.search({
      accountId: conn.accountId, inboxIds: deps.reader.agentInboxes(conn),
      q: frame['q'], inboxId: frame['inboxId'], status: frame['status'], cursor: frame['cursor'], limit: frame['limit'],
    })
  },
}
