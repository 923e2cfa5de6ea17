// Fan-out across nodes. A change is published once to its partition channel (inside the Lua
// script that made it, so notices leave Redis in the order the changes happened); every node
// subscribes to all partition channels (feed.ts), passes each notice through the partition's
// sequencer (sequencer.ts: in log order, exactly once, caught up after a subscription gap) and
// delivers it to its local sockets:
//   i:<inboxId>                agents who see the inbox
//   c:<contactId>:<inboxId>    the contact's widget sockets
// Each frame is encoded at most once per codec.
import type { Cluster, Redis } from 'ioredis'
import { splitNotice, type NoticeHeader } from '../../lua/codec.js'
import { keysFor } from '../../lua/keys.js'
import type { ConnData } from '../connection.js'
import { eventPayload, payloadOf, type Payload } from '../frames.js'
import type { Logger } from '../log.js'
import type { Socket } from '../sockets/index.js'
import { contactConversationView } from '../views.js'
import type { Feed } from '../../lua/feeds/feed.js'
import { createSequencer } from './sequencer.js'

/** A notice as nodes receive it: the header parsed, the event data still JSON text. */
export type Notice = { header: NoticeHeader; data: string }

export const inboxTopic = (inboxId: string) => `i:${inboxId}`
export const contactTopic = (contactId: string, inboxId: string) => `c:${contactId}:${inboxId}`
/** every agent of an account (presence deltas) */
export const accountTopic = (accountId: string) => `a:${accountId}`
/** every widget of an inbox (its `agentsOnline` changes) */
export const widgetsTopic = (inboxId: string) => `w:${inboxId}`

export function createFanout(deps: {
  feed: Feed
  /** command connection: the sequencer reads notice logs with it */
  redis: Redis | Cluster
  partitions: number
  log: Logger
  deliver: (ws: Socket, payload: string | Buffer, isBinary: boolean) => void
  /** presence notices, after agents got them: the engine recomputes inboxes' agentsOnline */
  onPresence?: (n: Notice) => void
  /** control notices (engine/control.ts): for the engine, never for clients */
  onControl?: (n: Notice) => void
  /** a partition's gap could not be caught up: its local clients must reconnect and resume */
  onLost?: (partition: number) => void
  /** a partition caught up after a gap: refresh what the notice log does not hold (control notices) */
  onResynced?: (partition: number) => void
}) {
  // A topic's local sockets: most topics (a contact's widget) have one, held without a Set; a
  // shared topic's Set carries its name, so its sockets' lists point at one string, not a copy each.
  type Shared = Set<Socket> & { readonly topic: string }
  const topics = new Map<string, Socket | Shared>()
  // each socket's topics, in arrays of exactly their length (spread or push would reserve 19 slots)
  const memberOf = new Map<Socket, readonly string[]>()

  function subscribe(ws: Socket, topic: string): void {
    const list = memberOf.get(ws)
    if (list?.includes(topic) === true) return
    const members = topics.get(topic)
    let name = topic
    if (members === undefined) topics.set(topic, ws)
    else if (members instanceof Set) {
      members.add(ws)
      name = members.topic
    } else topics.set(topic, Object.assign(new Set([members, ws]), { topic }))
    memberOf.set(ws, list === undefined ? [name] : list.concat(name))
  }

  /** Takes the socket off a topic's members (its own topic list is the caller's to update). */
  function leave(ws: Socket, topic: string): void {
    const members = topics.get(topic)
    if (members === ws) topics.delete(topic)
    else if (members instanceof Set) {
      members.delete(ws)
      if (members.size === 1) for (const only of members) topics.set(topic, only)
    }
  }

  function unsubscribeAll(ws: Socket): void {
    for (const topic of memberOf.get(ws) ?? []) leave(ws, topic)
    memberOf.delete(ws)
  }

  function unsubscribe(ws: Socket, topic: string): void {
    const list = memberOf.get(ws)
    if (list === undefined || !list.includes(topic)) return
    leave(ws, topic)
    memberOf.set(ws, list.filter((t) => t !== topic))
  }

  /** A topic's local sockets (a copy: safe to change subscriptions while walking it). */
  function members(topic: string): Socket[] {
    const m = topics.get(topic)
    return m === undefined ? [] : m instanceof Set ? [...m] : [m]
  }

  /** The topics a socket is subscribed to. */
  function topicsOf(ws: Socket): readonly string[] {
    return memberOf.get(ws) ?? []
  }

  /** How many local sockets a topic has. */
  function count(topic: string): number {
    const members = topics.get(topic)
    return members === undefined ? 0 : members instanceof Set ? members.size : 1
  }

  function sendTo(ws: Socket, payload: Payload, except: string | undefined): void {
    const conn: ConnData = ws.getUserData()
    if (conn.closed || conn.id === except) return
    if (conn.codec === 'json') deps.deliver(ws, payload.json(), false)
    else deps.deliver(ws, payload.msgpack(), true)
  }

  function send(topic: string, payload: Payload, except?: string): void {
    const members = topics.get(topic)
    if (members === undefined) return
    if (members instanceof Set) for (const ws of members) sendTo(ws, payload, except)
    else sendTo(members, payload, except)
  }

  /** Delivers one notice to the local sockets allowed to see it. */
  function dispatch(n: Notice): void {
    const { header: h } = n
    if (h.t.startsWith('control.')) {
      deps.onControl?.(n)
      return
    }
    const payload = eventPayload(h.t, n.data)
    if (h.t === 'presence.updated') {
      send(accountTopic(h.a), payload)
      deps.onPresence?.(n)
      return
    }
    send(inboxTopic(h.i), payload, h.x)
    if (h.p === 1 || h.c === '') return
    let forContact = payload
    if (h.t === 'conversation.updated' || h.t === 'conversation.created') {
      // the only events whose contact copy differs: a reduced conversation
      const data = JSON.parse(n.data) as Record<string, unknown>
      const conv = data['conversation']
      if (typeof conv !== 'object' || conv === null) return
      forContact = payloadOf({ op: 'event', type: h.t, data: { ...data, conversation: contactConversationView(conv as Record<string, unknown>) } })
    }
    send(contactTopic(h.c, h.i), forContact, h.x)
  }

  function onNotice(message: string): void {
    const n = splitNotice(message)
    if (n === null) {
      deps.log.error({ size: message.length }, 'unparseable fan-out notice')
      return
    }
    dispatch(n)
  }

  const sequencer = createSequencer({
    redis: deps.redis, log: deps.log, deliver: onNotice,
    logKeys: Array.from({ length: deps.partitions }, (_, p) => keysFor(p).notices),
    lost: (p) => deps.onLost?.(p),
    resynced: (p) => deps.onResynced?.(p),
  })

  async function start(): Promise<void> {
    await deps.feed.start({ notice: sequencer.notice, down: sequencer.down, up: sequencer.up })
    if (!await sequencer.whenLive(30_000)) throw new Error('fan-out did not become live')
  }

  return {
    subscribe, unsubscribe, unsubscribeAll, members, topicsOf, count, start, dispatch, send,
    isLive: sequencer.isLive, allLive: sequencer.allLive, whenLive: sequencer.whenLive,
    stop: () => deps.feed.stop(),
  }
}

export type Fanout = ReturnType<typeof createFanout>
