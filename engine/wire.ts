// The wire protocol's objects, operations and events in types: the one source that the engine's
// op registry (engine/ops/index.ts) is checked against and the client SDK (engine/client/) imports.
// Spelling follows engine/PROTOCOL.md; frames and error codes are in engine/protocol.ts.
import type { Agent, Availability, Contact, ErrorBody } from './protocol.js'

export type { Agent, Availability, Contact, ErrorBody }
export type ConversationStatus = 'open' | 'pending' | 'snoozed' | 'resolved'
export type Priority = 'low' | 'medium' | 'high' | 'urgent'
export type MessageType = 'incoming' | 'outgoing' | 'activity' | 'template'
export type MessageStatus = 'sent' | 'delivered' | 'read' | 'failed'
export type ContentType = 'text' | 'input_text' | 'input_textarea' | 'input_email' | 'input_select' | 'cards' | 'form' | 'article' | 'input_csat'
export type Attributes = Record<string, unknown>

export type Message = {
  /** its Redis Stream id, ordered within a conversation */
  id: string
  conversationId: string
  accountId: string
  inboxId: string
  type: MessageType
  content: string
  contentType: ContentType
  contentAttributes: Attributes
  private: boolean
  echoId: string | null
  sourceId: string | null
  status: MessageStatus
  sender: { type: 'contact' | 'agent' | 'system'; id: string | null; name?: string }
  createdAt: number
  /** the unique key minted when accepted (engine/PROTOCOL.md) */
  uid?: string
}

export type Rating = { score: number; comment: string | null; ratedAt: number }

export type Conversation = {
  id: string
  displayId: number
  accountId: string
  inboxId: string
  contactId: string
  status: ConversationStatus
  priority: Priority | null
  assigneeId: string | null
  waitingSince: number | null
  firstReplyCreatedAt: number | null
  lastActivityAt: number | null
  agentLastSeenAt: number | null
  assigneeLastSeenAt: number | null
  contactLastSeenAt: number | null
  snoozedUntil: number | null
  unreadCount: number
  customAttributes: Attributes
  additionalAttributes: Attributes
  branch: string | null
  region: string | null
  rating: Rating | null
  createdAt: number
}

/** What a contact sees of its conversation (no agent-only fields). */
export type ContactConversation = Omit<Conversation, 'customAttributes' | 'unreadCount' | 'assigneeLastSeenAt' | 'priority' | 'branch' | 'region' | 'waitingSince' | 'firstReplyCreatedAt'>
  & Partial<Pick<Conversation, 'unreadCount' | 'assigneeLastSeenAt' | 'priority' | 'waitingSince' | 'firstReplyCreatedAt'>>

export type Limits = { maxFrameBytes: number; maxContentChars: number; messagesPerMinute: number }
type HelloBase = { connectionId: string; serverTime: number; heartbeatMs: number; limits: Limits }
export type AgentHello = HelloBase & { role: 'agent'; agent: Agent }
export type ContactHello = HelloBase & {
  role: 'contact'
  contact: Contact
  /** pass it back as `session` to stay the same contact */
  session: string
  inbox: { id: string; name: string; agentsOnline: boolean }
  conversation: ContactConversation | null
}
export type Hello = AgentHello | ContactHello

type Cid = { conversationId: string }
/** Every operation: its params (without `op`/`ref`), its reply `data`, and the roles allowed. */
export type Ops = {
  ping: { params: Record<string, never>; reply: { serverTime: number }; roles: 'agent' | 'contact' }
  'message.send': {
    params: Cid & { content: string; echoId: string; contentType?: ContentType; contentAttributes?: Attributes; private?: boolean }
    reply: { message: Message }; roles: 'agent' | 'contact'
  }
  typing: { params: Cid & { on: boolean }; reply: Record<string, never>; roles: 'agent' | 'contact' }
  seen: { params: Cid; reply: { conversation: Conversation | ContactConversation }; roles: 'agent' | 'contact' }
  history: { params: Cid & { before?: string | null; limit?: number }; reply: { messages: Message[]; more: boolean; archiveUnavailable?: boolean }; roles: 'agent' | 'contact' }
  resume: { params: Cid & { after: string }; reply: { messages: Message[]; complete: boolean }; roles: 'agent' | 'contact' }
  /** contacts: their own conversations, in the contact's view (engine/PROTOCOL.md) */
  'conversation.get': { params: Cid; reply: { conversation: Conversation | ContactConversation }; roles: 'agent' | 'contact' }
  'conversation.open': { params: { additionalAttributes?: Attributes }; reply: { conversation: ContactConversation }; roles: 'contact' }
  'contact.update': {
    params: { name?: string; email?: string; phone?: string; customAttributes?: Attributes }
    reply: { contact: Contact }; roles: 'contact'
  }
  'conversation.rate': { params: Cid & { score: number; comment?: string | null }; reply: { conversation: ContactConversation }; roles: 'contact' }
  'presence.set': { params: { availability: Availability }; reply: { agent: Agent }; roles: 'agent' }
  'conversation.list': {
    params: { status?: ConversationStatus; assignee?: string; inboxId?: string; limit?: number; cursor?: string | null }
    reply: { conversations: Conversation[]; cursor: string | null; archiveUnavailable?: boolean }; roles: 'agent'
  }
  'conversation.assign': { params: Cid & { assigneeId: string | null; expectedAssigneeId?: string | null }; reply: { conversation: Conversation }; roles: 'agent' }
  'conversation.status': { params: Cid & { status: ConversationStatus; snoozedUntil?: number }; reply: { conversation: Conversation }; roles: 'agent' }
  'conversation.update': {
    params: Cid & { priority?: Priority | null; customAttributes?: Attributes; branch?: string | null; region?: string | null }
    reply: { conversation: Conversation }; roles: 'agent'
  }
  'agents.list': { params: Record<string, never>; reply: { agents: Agent[] }; roles: 'agent' }
}
export type OpName = keyof Ops
export type OpParams<K extends OpName> = Ops[K]['params']
export type OpReply<K extends OpName> = Ops[K]['reply']
/** the ops one role may call */
export type OpsOf<R extends 'agent' | 'contact'> = { [K in OpName]: R extends Ops[K]['roles'] ? K : never }[OpName]

/** Every event: `{"op":"event","type":K,"data":Events[K]}`. */
export type Events = {
  'message.created': { message: Message }
  'message.updated': { message: Message }
  'conversation.created': { conversation: Conversation }
  'conversation.updated': { conversation: Conversation | ContactConversation; changed: string[] }
  typing: Cid & { on: boolean; sender: { type: 'contact' | 'agent'; id: string } }
  /** agents get `{agent}`; widgets get `{agentsOnline}` */
  'presence.updated': { agent?: Pick<Agent, 'id' | 'accountId' | 'online' | 'availability'>; agentsOnline?: boolean }
}
export type EventType = keyof Events

export type ReplyFrame = { op: 'reply'; ref: number | null; ok: true; data: unknown } | { op: 'reply'; ref: number | null; ok: false; error: ErrorBody }
export type EventFrame = { [K in EventType]: { op: 'event'; type: K; data: Events[K] } }[EventType]
export type HelloFrame = { op: 'hello'; data: Hello }
/** What a client receives. */
export type InboundFrame = HelloFrame | ReplyFrame | EventFrame
