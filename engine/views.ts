// Protocol objects built from Redis state (the TS twin of conv_view in lua/_lib.lua).
import type { Role } from './protocol.js'
import type { Conversation as WireConversation } from './wire.js'

export type Conversation = Record<string, unknown> & { id: string; accountId: string; inboxId: string; contactId: string; status: string }
export type Message = Record<string, unknown> & { id: string; private: boolean; type: string; createdAt: number; sender: { type: string; id: string | null } }

const NUMBERS = new Set(['displayId', 'waitingSince', 'firstReplyCreatedAt', 'lastActivityAt', 'agentLastSeenAt',
  'assigneeLastSeenAt', 'contactLastSeenAt', 'snoozedUntil', 'unreadCount', 'createdAt'])
const JSONS = new Set(['customAttributes', 'additionalAttributes', 'rating'])
export const CONVERSATION_FIELDS = ['id', 'displayId', 'accountId', 'inboxId', 'contactId', 'status', 'priority', 'assigneeId',
  'waitingSince', 'firstReplyCreatedAt', 'lastActivityAt', 'agentLastSeenAt', 'assigneeLastSeenAt', 'contactLastSeenAt',
  'snoozedUntil', 'unreadCount', 'customAttributes', 'additionalAttributes', 'branch', 'region', 'rating', 'createdAt'] as const satisfies readonly (keyof WireConversation)[]
/** compile-time: every field of the protocol's Conversation (engine/wire.ts) is built here */
export const allConversationFields: Exclude<keyof WireConversation, (typeof CONVERSATION_FIELDS)[number]> extends never ? true : never = true

export function conversationFromHash(h: Record<string, string>): Conversation | null {
  if (h['id'] === undefined || h['accountId'] === undefined) return null
  const c: Record<string, unknown> = {}
  for (const f of CONVERSATION_FIELDS) {
    const v = h[f]
    if (v === undefined || v === '') c[f] = f === 'unreadCount' ? 0 : f === 'customAttributes' || f === 'additionalAttributes' ? {} : null
    else if (NUMBERS.has(f)) c[f] = Number(v)
    else if (JSONS.has(f)) c[f] = JSON.parse(v) as unknown
    else c[f] = v
  }
  return c as Conversation
}

/** What a contact may see of its conversation: no agent-only fields (custom attributes, unread, notes). */
export function contactConversationView(c: Record<string, unknown>): Record<string, unknown> {
  const { customAttributes: _ca, unreadCount: _u, assigneeLastSeenAt: _al, priority: _p, branch: _b, region: _r, waitingSince: _w, firstReplyCreatedAt: _f, ...rest } = c
  return rest
}

/** A message as stored in a conversation log entry (`m` field) with its stream id. */
export function messageFromEntry(id: string, fields: readonly string[]): Message | null {
  const i = fields.indexOf('m')
  const raw = i >= 0 ? fields[i + 1] : undefined
  if (raw === undefined) return null
  const m = JSON.parse(raw) as Message
  m.id = id
  return m
}

/** `read` once the other side has seen the conversation at or after the message. */
export function withStatus(m: Message, conv: Conversation): Message {
  if (m.status !== 'sent' && m.status !== 'delivered') return m
  const seenBy = m.type === 'incoming' ? Number(conv['agentLastSeenAt'] ?? 0) : Number(conv['contactLastSeenAt'] ?? 0)
  return seenBy >= m.createdAt && m.type !== 'activity' ? { ...m, status: 'read' } : m
}

export function visibleTo(role: Role, m: Message): boolean {
  return role === 'agent' || !m.private
}
