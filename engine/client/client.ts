// The core both clients share: one connection, requests, the held view (conversations and their
// ordered messages), the outbox, events for the app, and resync after every hello. widget.ts and
// agent.ts add the role's options, URL, hello handling and typed helpers; browser.ts and node.ts
// supply the platform (WebSocket, storage, wake-up signals).
//
// Guarantees to the app: events arrive once each, messages in id order per conversation; after
// every (re)connect the view is made the server's and `synced` follows; a send is kept until
// acknowledged and lands once on the server. An exception in an app handler becomes an `error`
// event; nothing the app passes to `on` can break the client.
import { createConnection } from './connection.js'
import { createEmitter } from './emitter.js'
import { ParleyError } from './errors.js'
import { newEchoId } from './ids.js'
import { createOutbox } from './outbox.js'
import { createRequests } from './requests.js'
import { sendProblem } from './send-check.js'
import type { KeyValue } from './storage.js'
import { createHeld, type AnyConversation } from './store.js'
import { createSync, type SyncHooks } from './sync.js'
import { createView } from './view.js'
import type { ClientEvents, Codec, CommonOptions, Opener, OutboxEntry, SendOptions, State } from './types.js'
import type { EventFrame, Hello, Message } from '../wire.js'

export type RoleHooks = SyncHooks & {
  onHello: (hello: Hello) => void
  /** presence.updated: role-specific bookkeeping before the app hears it */
  onPresence?: (data: ClientEvents['presence.updated']) => void
}

export type CoreDeps = {
  options: CommonOptions
  opener: Opener
  probe: (() => Promise<boolean>) | null
  codec: Codec
  kv: KeyValue
  url: () => string
  hooks: RoleHooks
}

export function createCore(deps: CoreDeps) {
  const { options, hooks } = deps
  const emitter = createEmitter<ClientEvents>()
  const emit = emitter.emit
  const held = createHeld()
  let hello: Hello | null = null
  let closedErr: ParleyError | null = null

  const conn = createConnection({
    opener: deps.opener, url: deps.url, codec: deps.codec, probe: deps.probe,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs }),
    ...(options.pingTimeoutMs === undefined ? {} : { pingTimeoutMs: options.pingTimeoutMs }),
    ping: () => requests.request('ping', {}, options.pingTimeoutMs ?? 10_000),
    onState: (state, previous) => emit('state', { state, previous }),
    onHello,
    onFrame,
    onDown: () => {
      sync.down()
      requests.dropped()
    },
    onFatal: (err) => shutdown(err, true),
  })
  const requests = createRequests({ send: (f) => conn.send(f), timeoutMs: options.requestTimeoutMs ?? 15_000 })

  const outbox = createOutbox({
    kv: deps.kv,
    now: Date.now,
    send: (e) => requests.request('message.send', {
      conversationId: e.conversationId, content: e.content, echoId: e.echoId,
      ...(e.contentType === undefined ? {} : { contentType: e.contentType }),
      ...(e.contentAttributes === undefined ? {} : { contentAttributes: e.contentAttributes }),
      ...(e.private === undefined ? {} : { private: e.private }),
    }) as Promise<{ message: Message }>,
    // held at once (messages() shows it); told when the stream reaches it, so never out of order
    onAck: (m) => void held.putMessage(m),
    onFailed: (err) => emit('error', err),
  })
  const view = createView({ held, emitter, outbox, role: hooks.role, onPresence: hooks.onPresence })
  const sync = createSync({ held, view, requests, outbox, hooks, emit, restart: () => conn.restart('resync failed') })

  function onFrame(frame: Record<string, unknown>): void {
    if (frame['op'] === 'reply') {
      const f = frame as { ref: number | null; ok: boolean; error?: { code: never; message: string; retryAfterMs?: number } }
      if (!requests.onReply(f) && f.ok === false && f.error !== undefined) emit('error', new ParleyError(f.error.code, f.error.message, f.error.retryAfterMs))
    } else if (frame['op'] === 'event') {
      sync.event(frame as EventFrame)
    }
  }

  function onHello(h: Hello): void {
    const reconnect = hello !== null
    hello = h
    requests.flush()
    hooks.onHello(h)
    emit('hello', h)
    sync.begin(reconnect)
  }

  function shutdown(err: ParleyError, report: boolean): void {
    if (closedErr !== null) return
    closedErr = err
    sync.close(err)
    conn.stop()
    requests.failAll(err)
    outbox.close(err)
    if (report) emit('error', err)
  }

  // ---- the app's API -------------------------------------------------------------------------

  function request(op: string, params: Record<string, unknown> = {}, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    if (typeof op !== 'string' || op === '') return Promise.reject(new ParleyError('bad_request', 'request(op, params): `op` must be an operation name'))
    if (params === null || typeof params !== 'object' || Array.isArray(params)) return Promise.reject(new ParleyError('bad_request', `${op}: params must be an object`))
    return requests.request(op, params, opts.timeoutMs).then((data) => {
      // keep the held view current with what replies carry (the server's events follow as usual)
      const d = data as { conversation?: AnyConversation; conversations?: AnyConversation[]; messages?: Message[] }
      if (d.conversation?.id !== undefined) held.putConversation(d.conversation)
      for (const c of d.conversations ?? []) held.putConversation(c)
      if (op === 'history' || op === 'resume') for (const m of d.messages ?? []) held.putMessage(m)
      // the latest page is a stream position: what it returned is not told again as an event
      const newest = d.messages?.[d.messages.length - 1]
      if (op === 'history' && params['before'] === undefined && newest !== undefined) held.advance(newest)
      return data
    })
  }

  function send(conversationId: string, content: string, opts: SendOptions = {}): Promise<Message> {
    if (closedErr !== null) return Promise.reject(closedErr)
    const bad = sendProblem(conversationId, content, opts, hello?.limits.maxContentChars ?? 150_000)
    if (bad !== null) return Promise.reject(bad)
    const e: OutboxEntry = { echoId: opts.echoId ?? newEchoId(), conversationId, content, createdAt: Date.now() }
    if (opts.contentType !== undefined) e.contentType = opts.contentType
    if (opts.contentAttributes !== undefined) e.contentAttributes = opts.contentAttributes
    if (opts.private !== undefined) e.private = opts.private
    held.follow(conversationId)
    return outbox.add(e)
  }

  /** older messages, merged into the held view and returned (newest last) */
  async function history(conversationId: string, opts: { before?: string; limit?: number } = {}) {
    held.follow(conversationId)
    const r = await request('history', { conversationId, ...(opts.before === undefined ? {} : { before: opts.before }), ...(opts.limit === undefined ? {} : { limit: opts.limit }) })
    return r as { messages: Message[]; more: boolean }
  }

  const api = {
    on: emitter.on,
    off: emitter.off,
    send,
    history,
    /** marks the conversation seen by this side; resolves with the conversation */
    markSeen: (conversationId: string) => request('seen', { conversationId }).then((r) => (r as { conversation: AnyConversation }).conversation),
    /** typing indicator on or off */
    typing: (conversationId: string, on: boolean) => request('typing', { conversationId, on: on === true }).then(() => undefined),
    /** the ordered messages the client holds for a conversation (a copy) */
    messages: (conversationId: string): Message[] => held.messages(conversationId),
    /** the latest conversation object the client holds, or null */
    conversation: (conversationId: string): AnyConversation | null => held.conversation(conversationId),
    /** stop holding a conversation (its messages, its resync); a later event of it holds it again */
    forget: (conversationId: string): void => held.remove(conversationId),
    /** ids of the conversations the client holds */
    conversations: (): string[] => held.ids().filter((id) => held.conversation(id) !== null),
    /** sends not yet acknowledged, oldest first (they survive a reload when storage does) */
    outbox: () => outbox.entries(),
    /** resolves at the next `synced` (at once when synced now) */
    whenSynced: (): Promise<void> => (closedErr !== null ? Promise.reject(closedErr) : sync.whenSynced(conn.ready)),
    /** connect now if waiting to reconnect (the page came back online or into view) */
    reconnectNow: () => conn.wake(),
    /** closes for good: pending calls are rejected with `closed`; the stored outbox stays */
    close: (): void => shutdown(new ParleyError('closed', 'the client was closed'), false),
    get state(): State { return conn.state },
    get synced(): boolean { return sync.synced(conn.ready) },
    get hello(): Hello | null { return hello },
  }
  return { api, request, held, emit, start: () => conn.start() }
}
export type Core = ReturnType<typeof createCore>
