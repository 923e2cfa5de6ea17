// Fan-out across nodes. A change is published once to its partition channel (inside the Lua
// script that made it, so notices leave Redis in the order the changes happened); every node
// subscribes to all partition channels and delivers each notice to its local sockets:
//   i:<inboxId>                agents who see the inbox
//   c:<contactId>:<inboxId>    the contact's widget sockets
// Each frame is encoded at most once per codec. Pub/sub loss (a node's Redis link dropping) is
// covered by `resume` from the conversation log.
import type { Redis } from 'ioredis'
import { keysFor } from '../lua/keys.js'
import type { ConnData } from './connection.js'
import { encodeBoth } from './frames.js'
import type { Logger } from './log.js'
import type { ServerFrame } from './protocol.js'
import type { Socket } from './socket.js'
import { contactConversationView } from './views.js'

/** A notice as published by the scripts (see `publish` in lua/_lib.lua). */
export type Notice = { t: string; a: string; i: string; c: string; p: 0 | 1; d: Record<string, unknown>; x?: string }

export const inboxTopic = (inboxId: string) => `i:${inboxId}`
export const contactTopic = (contactId: string, inboxId: string) => `c:${contactId}:${inboxId}`
/** every agent of an account (presence deltas) */
export const accountTopic = (accountId: string) => `a:${accountId}`
/** every widget of an inbox (its `agentsOnline` changes) */
export const widgetsTopic = (inboxId: string) => `w:${inboxId}`

export function createFanout(deps: {
  sub: Redis
  partitions: number
  log: Logger
  deliver: (ws: Socket, payload: string | Buffer, isBinary: boolean) => void
  /** presence notices, after agents got them: the engine recomputes inboxes' agentsOnline */
  onPresence?: (n: Notice) => void
}) {
  const topics = new Map<string, Set<Socket>>()
  const memberOf = new Map<Socket, string[]>()

  function subscribe(ws: Socket, topic: string): void {
    let set = topics.get(topic)
    if (set === undefined) topics.set(topic, (set = new Set()))
    set.add(ws)
    const list = memberOf.get(ws)
    if (list === undefined) memberOf.set(ws, [topic])
    else if (!list.includes(topic)) list.push(topic)
  }

  function unsubscribeAll(ws: Socket): void {
    for (const topic of memberOf.get(ws) ?? []) {
      const set = topics.get(topic)
      set?.delete(ws)
      if (set?.size === 0) topics.delete(topic)
    }
    memberOf.delete(ws)
  }

  function send(topic: string, frame: ServerFrame, except?: string): void {
    const set = topics.get(topic)
    if (set === undefined || set.size === 0) return
    let encoded: { json: string; msgpack: Buffer } | undefined
    for (const ws of set) {
      const conn: ConnData = ws.getUserData()
      if (conn.closed || conn.id === except) continue
      encoded ??= encodeBoth(frame)
      if (conn.codec === 'json') deps.deliver(ws, encoded.json, false)
      else deps.deliver(ws, encoded.msgpack, true)
    }
  }

  /** Delivers one notice to the local sockets allowed to see it. */
  function dispatch(n: Notice): void {
    if (n.t === 'presence.updated') {
      send(accountTopic(n.a), { op: 'event', type: n.t, data: n.d })
      deps.onPresence?.(n)
      return
    }
    send(inboxTopic(n.i), { op: 'event', type: n.t, data: n.d }, n.x)
    if (n.p === 1 || n.c === '') return
    let data = n.d
    if (n.t === 'conversation.updated' || n.t === 'conversation.created') {
      const conv = n.d['conversation']
      if (typeof conv !== 'object' || conv === null) return
      data = { ...n.d, conversation: contactConversationView(conv as Record<string, unknown>) }
    }
    send(contactTopic(n.c, n.i), { op: 'event', type: n.t, data }, n.x)
  }

  function onMessage(_channel: string, message: string): void {
    let n: Notice
    try {
      n = JSON.parse(message) as Notice
    } catch (err) {
      deps.log.error({ err }, 'unparseable fan-out notice')
      return
    }
    dispatch(n)
  }

  async function start(): Promise<void> {
    const channels = Array.from({ length: deps.partitions }, (_, p) => keysFor(p).fanout)
    deps.sub.on('message', onMessage)
    await deps.sub.subscribe(...channels)
  }

  return { subscribe, unsubscribeAll, start, dispatch, send, topics }
}

export type Fanout = ReturnType<typeof createFanout>
