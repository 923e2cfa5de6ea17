// Control notices: changes every engine node must apply to its local sockets, sent on the partition
// fan-out channel like any notice (so they follow the writes that caused them) but never delivered
// to clients (fanout.ts hands types starting with `control.` to the engine).
import { encodeNotice } from '../lua/codec.js'

/** An agent changed (role, inboxes) or lost its credentials (removed, token rotated). */
export const AGENT_CONTROL = 'control.agent'
export type AgentControl = {
  agentId: string; revoked: boolean
  /** inboxes the agent joined or left: their widgets' `agentsOnline` may have changed */
  inboxIds?: string[]
}
/** A new inbox: connected administrators of the account start receiving its events. */
export const INBOX_CONTROL = 'control.inbox'
export type InboxControl = { inboxId: string }

export function controlNotice(type: typeof AGENT_CONTROL, accountId: string, data: AgentControl): string
export function controlNotice(type: typeof INBOX_CONTROL, accountId: string, data: InboxControl): string
export function controlNotice(type: string, accountId: string, data: AgentControl | InboxControl): string {
  return encodeNotice({ t: type, a: accountId, i: '', c: '', p: 1 }, data)
}
