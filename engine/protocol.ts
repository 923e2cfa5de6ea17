// The wire protocol (engine/PROTOCOL.md) in types: frames, error codes, close codes, objects.

export const ERROR_CODES = [
  'bad_request', 'unauthorized', 'forbidden', 'not_found', 'too_large', 'flood_limited',
  'rate_limited', 'conflict', 'invalid_state', 'unavailable', 'internal',
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

export const HTTP_STATUS: Record<ErrorCode, string> = {
  bad_request: '400 Bad Request',
  unauthorized: '401 Unauthorized',
  forbidden: '403 Forbidden',
  not_found: '404 Not Found',
  too_large: '413 Payload Too Large',
  flood_limited: '429 Too Many Requests',
  rate_limited: '429 Too Many Requests',
  conflict: '409 Conflict',
  invalid_state: '409 Conflict',
  unavailable: '503 Service Unavailable',
  internal: '500 Internal Server Error',
}

/** WebSocket close codes the engine uses. */
export const CLOSE = {
  /** repeated undecodable frames */
  policy: 1008,
  /** frame over the WebSocket payload limit (uWS closes by itself) */
  tooBig: 1009,
  /** the node is shutting down or restarting: reconnect (to any node) and `resume` */
  reconnect: 1012,
  /** the credentials went away (agent removed, token rotated): do not reconnect with them */
  revoked: 4001,
  /** the client stopped reading and its buffer passed the bound: reconnect and `resume` */
  slowConsumer: 4008,
} as const

export const SUBPROTOCOL_JSON = 'parley.v1.json'
export const SUBPROTOCOL_MSGPACK = 'parley.v1.msgpack'
export type Codec = 'json' | 'msgpack'
export type Role = 'contact' | 'agent'

export type ClientFrame = { readonly op: string; readonly ref: number | null; readonly [k: string]: unknown }

export type ErrorBody = { code: ErrorCode; message: string; retryAfterMs?: number }

export type ServerFrame =
  | { op: 'hello'; data: Record<string, unknown> }
  | { op: 'reply'; ref: number | null; ok: true; data: unknown }
  | { op: 'reply'; ref: number | null; ok: false; error: ErrorBody }
  | { op: 'event'; type: string; data: unknown }

export type Availability = 'online' | 'busy' | 'offline'
export type AgentRole = 'administrator' | 'agent'

export type Account = { id: string; name: string; createdAt: number }

export type Inbox = {
  id: string
  accountId: string
  name: string
  websiteToken: string
  hmacSecret: string
  allowedOrigins: string[]
  messagesPerMinute: number
  autoAssign: boolean
  createdAt: number
}

export type Agent = {
  id: string
  accountId: string
  name: string
  role: AgentRole
  availability: Availability
  online: boolean
  inboxIds: string[]
  maxConversations: number | null
}

export type Contact = {
  id: string
  accountId: string
  name: string | null
  email: string | null
  phone: string | null
  identifier: string | null
  verified: boolean
  customAttributes: Record<string, unknown>
  lastSeenAt: number | null
}
