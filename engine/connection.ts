// What a WebSocket carries: who it is (from the verified upgrade, never from frames) and how it speaks.
import type { Logger } from './log.js'
import type { AgentRecord } from './directory.js'
import type { Codec, Contact, Inbox, Role } from './protocol.js'

export type Principal =
  | { readonly kind: 'agent'; readonly agent: AgentRecord }
  | { readonly kind: 'contact'; readonly contact: Contact; readonly inbox: Inbox; readonly session: string }

export type ConnData = {
  readonly id: string
  readonly role: Role
  readonly accountId: string
  readonly partition: number
  readonly codec: Codec
  readonly ip: string
  readonly principal: Principal
  readonly hello: Record<string, unknown>
  readonly log: Logger
  garbage: number
  closed: boolean
}
