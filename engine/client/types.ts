// Public types of the client SDK. Protocol objects, ops and events come from engine/wire.ts (the one
// source the engine is checked against); this file adds only what the SDK itself defines.
import type { ParleyError } from './errors.js'
import type { Events, Hello, Message } from '../wire.js'

export type {
  Agent, AgentHello, Attributes, Contact, ContactConversation, ContactHello, ContentType, Conversation, ConversationStatus,
  EventType, Events, Hello, Message, OpName, OpParams, OpReply, Ops, OpsOf, Priority,
} from '../wire.js'
export type { ErrorCode } from '../protocol.js'

/** connecting (first attempt) → open → reconnecting (after a drop) → open … ; closed is final. */
export type State = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Web-Storage-like and synchronous: localStorage, sessionStorage, or memoryStorage(). */
export type StorageLike = {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/** How frames are written: JSON (default) or msgpack (`parley/client/msgpack`). */
export type Codec = {
  readonly subprotocol: string
  encode(frame: Record<string, unknown>): string | Uint8Array
  decode(data: string | ArrayBuffer | Uint8Array): unknown
}

/** The part of a WHATWG WebSocket the SDK uses (a browser's, undici's, or `ws`). */
export type WebSocketLike = {
  binaryType: string
  readonly protocol: string
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
}
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => WebSocketLike

/** An upgrade the server answered with an HTTP status instead of 101 (known in Node with `ws`). */
export type Refusal = { status: number; code?: string; message?: string; retryAfterMs?: number }

/** One live socket, as the connection manager drives it. */
export type SocketHandlers = {
  open(): void
  message(data: string | ArrayBuffer | Uint8Array): void
  /** `opened` false: the upgrade failed; `refused` set when the HTTP status is known */
  close(code: number, reason: string, opened: boolean, refused?: Refusal): void
}
export type SocketHandle = { send(data: string | Uint8Array): void; close(code?: number, reason?: string): void }
export type Opener = (url: string, subprotocol: string, h: SocketHandlers) => SocketHandle

export type Backoff = { baseMs?: number; maxMs?: number }

/** Options both clients take. */
export type CommonOptions = {
  /** the engine's base URL: https://chat.example.com, http://127.0.0.1:8080, or ws(s)://… */
  url: string
  /** 'json' (default), 'msgpack' (Node entry; in a browser pass the codec from parley/client/msgpack), or a Codec */
  codec?: 'json' | 'msgpack' | Codec
  /** a WebSocket constructor (Node 20 has none; the Node entry uses `ws` when this is not given) */
  WebSocket?: WebSocketConstructor
  /** where the outbox (and a widget's session) lives: localStorage in a browser, memory in Node */
  storage?: StorageLike
  /** reconnect delay: full jitter, random(0, min(maxMs, baseMs·2^attempt)); default 500 ms … 30 s */
  backoff?: Backoff
  /** app-level ping period (default: half the server's heartbeat, at most 20 s) and reply timeout (10 s) */
  pingIntervalMs?: number
  pingTimeoutMs?: number
  /** a request unanswered this long is rejected with `timeout` (default 15 s) */
  requestTimeoutMs?: number
}

export type WidgetOptions = CommonOptions & { websiteToken: string; identifier?: string; identifierHash?: string }
export type AgentOptions = CommonOptions & { token: string }

/** Error codes of the protocol, plus the SDK's own. */
export type { ClientErrorCode } from './errors.js'

/** A send waiting for its acknowledgement; kept in storage until then. */
export type OutboxEntry = {
  echoId: string
  conversationId: string
  content: string
  contentType?: string
  contentAttributes?: Record<string, unknown>
  private?: boolean
  createdAt: number
}

export type SendOptions = { contentType?: Message['contentType']; contentAttributes?: Record<string, unknown>; private?: boolean; echoId?: string }

/** What `on(type, fn)` can listen to: every protocol event, plus the SDK's own. */
export type ClientEvents = Events & {
  state: { state: State; previous: State }
  /** the view is complete: after the first connect and after every reconnect */
  synced: { reconnect: boolean }
  error: ParleyError
  hello: Hello
  /** a held conversation the client may no longer read (not_found / forbidden on resync) */
  'conversation.removed': { conversationId: string; code: string }
}
