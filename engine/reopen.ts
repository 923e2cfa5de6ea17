// A conversation reopened with nobody assigned goes round robin again when its inbox auto-assigns
// (PROTOCOL.md, `autoAssign`): used after conversation.status, a snooze wake-up and API ingest.
import { json } from '../lua/scripts.js'
import type { Assignment } from './assignment.js'
import type { Directory } from './directory/index.js'

export type ReopenedConversation = { id: string; accountId: string; inboxId: string; assigneeId: unknown }

/** The conversation as assigned, or null when it stays as it was (assigned, or no auto-assign). */
export async function assignReopened(
  deps: { directory: Directory; assignment: Assignment }, c: ReopenedConversation,
): Promise<Record<string, unknown> | null> {
  if (c.assigneeId !== null && c.assigneeId !== undefined && c.assigneeId !== '') return null
  const inbox = await deps.directory.getInbox(c.accountId, c.inboxId)
  if (inbox === null || !inbox.autoAssign) return null
  const reply = await deps.assignment.autoAssign(c.accountId, c.inboxId, c.id)
  return reply[0] === 1 ? json(reply, 1) : null
}
