// What a WebSocket carries: who it is (from the verified upgrade, never from frames) and how it speaks.
// Kept small, since a node holds tens of thousands: ids and the few fields ops read, a shared inbox
// record, the hello data only until it is sent, and no logger (connLog makes one when needed).
import type { WebSocket } from 'uWebSockets.js'
import type { Logger } from './log.js'
import type { AgentRecord } from './directory/index.js'
import type { Codec, Role } from './protocol.js'

/** What a widget's ops read of its inbox; one record shared by the inbox's connections on a node. */
export type InboxRef = {
  readonly id: string
  readonly accountId: string
  readonly messagesPerMinute: number
  readonly autoAssign: boolean
}

export type Principal =
  | { readonly kind: 'agent'; readonly agent: AgentRecord }
  | { readonly kind: 'contact'; readonly contactId: string; readonly inbox: InboxRef }

/** A live WebSocket of this node, holding its connection's state. */
export type Socket = WebSocket<ConnData>

export type ConnData = {
  readonly id: string
  readonly role: Role
  readonly accountId: string
  readonly codec: Codec
  /** an agent's is replaced when an administrator changes the agent (server.ts, control.agent) */
  principal: Principal
  /** the `hello` frame's data until it is sent, then null */
  hello: Record<string, unknown> | null
  garbage: number
  closed: boolean
}

/** The connection's child logger (`{ conn, role, acct }`), made when something is logged. */
export function connLog(log: Logger, conn: ConnData): Logger {
  return log.child({ conn: conn.id, role: conn.role, acct: conn.accountId })
}
