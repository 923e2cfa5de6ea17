// Accounts, inboxes, agents and contacts: their live source of truth is Redis (keys from
// lua/keys.ts); every change is written together with its event on the partition stream, in one
// MULTI (a new contact: one script), so the archiver sees exactly what was written. One directory, served by three parts
// (inboxes.ts, agents.ts, contacts.ts) over one context (context.ts).
import type { RedisClient as Redis } from '../../lua/client.js'
import type { Scripts } from '../../lua/scripts.js'
import { createAgentDirectory } from './agents.js'
import { createContactDirectory } from './contacts.js'
import { directoryContext, type RestoreContact } from './context.js'
import { createInboxDirectory } from './inboxes.js'

export type { RestoreContact } from './context.js'
export {
  applyPatch, contactFrom, type AgentRecord, type ContactPatch, type InboxPatch, type NewAgent, type NewInbox,
} from './records.js'

export function createDirectory(deps: {
  redis: Redis; partitions: number; now?: () => number
  /** the engine's scripts (durability, metrics); made from `redis` when absent */
  scripts?: Scripts
  /** brings a contact evicted from Redis back from PostgreSQL (engine/eviction.ts); absent = no archive */
  restoreContact?: RestoreContact
}) {
  const ctx = directoryContext(deps)
  const inboxes = createInboxDirectory(ctx)
  return { keysOf: ctx.keysOf, ...inboxes, ...createAgentDirectory(ctx, inboxes.accountInboxIds), ...createContactDirectory(ctx) }
}

export type Directory = ReturnType<typeof createDirectory>
