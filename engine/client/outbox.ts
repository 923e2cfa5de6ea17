// The outbox: every `send` gets an echoId and is kept — in memory and in storage, so it survives a
// page reload — until the server acknowledges it. It is re-sent with the same echoId after every
// reconnect (the server answers a repeated echoId with the first message: one message per send).
// flood_limited / rate_limited / unavailable wait retryAfterMs and try again; any other error
// drops the entry and rejects the send (or reports `error` for a send from before a reload).
// One send per conversation is in flight at a time, so messages land in the order they were sent.
import { ParleyError, RETRYABLE } from './errors.js'
import type { KeyValue } from './storage.js'
import type { OutboxEntry } from './types.js'
import type { Message } from '../wire.js'

const KEY = 'outbox'
const DEFAULT_RETRY_MS = 1000

type Waiter = { resolve: (m: Message) => void; reject: (e: ParleyError) => void }

export function createOutbox(deps: {
  kv: KeyValue
  /** sends message.send; rejects with ParleyError */
  send: (e: OutboxEntry) => Promise<{ message: Message }>
  /** the acknowledged message, before the send's promise resolves */
  onAck: (m: Message, e: OutboxEntry) => void
  onFailed: (err: ParleyError, e: OutboxEntry) => void
  now: () => number
}) {
  const waiters = new Map<string, Waiter>()
  const inFlight = new Set<string>()
  const retryTimers = new Map<string, ReturnType<typeof setTimeout>>()
  let live = false
  let entries: OutboxEntry[] = deps.kv.read<OutboxEntry[]>(KEY) ?? []

  /** storage may be shared (another tab, a reloaded page): merge on every write */
  function persist(add: OutboxEntry | null, removeId: string | null): void {
    const stored = deps.kv.read<OutboxEntry[]>(KEY) ?? []
    const byId = new Map<string, OutboxEntry>()
    for (const e of [...stored, ...entries]) byId.set(e.echoId, e)
    if (add !== null) byId.set(add.echoId, add)
    if (removeId !== null) byId.delete(removeId)
    entries = [...byId.values()].sort((a, b) => a.createdAt - b.createdAt)
    deps.kv.write(KEY, entries.length === 0 ? null : entries)
  }

  function add(e: OutboxEntry): Promise<Message> {
    const p = new Promise<Message>((resolve, reject) => waiters.set(e.echoId, { resolve, reject }))
    persist(e, null)
    pump()
    return p
  }

  function settle(e: OutboxEntry, m: Message | null, err: ParleyError | null): void {
    persist(null, e.echoId)
    const w = waiters.get(e.echoId)
    waiters.delete(e.echoId)
    if (m !== null) {
      deps.onAck(m, e)
      w?.resolve(m)
    } else if (err !== null) {
      err.echoId = e.echoId
      err.conversationId = e.conversationId
      if (w !== undefined) w.reject(err)
      else deps.onFailed(err, e)
    }
  }

  /** a message seen on the wire (resume, event) carries an echoId we wait for: done */
  function acknowledged(m: Message): void {
    if (m.echoId === null || m.echoId === undefined) return
    const e = entries.find((x) => x.echoId === m.echoId && x.conversationId === m.conversationId)
    if (e !== undefined && !inFlight.has(e.echoId)) settle(e, m, null)
  }

  /** start the next send of every conversation that has none in flight */
  function pump(): void {
    if (!live) return
    const busy = new Set(entries.filter((e) => inFlight.has(e.echoId) || retryTimers.has(e.echoId)).map((e) => e.conversationId))
    for (const e of entries) {
      if (busy.has(e.conversationId)) continue
      busy.add(e.conversationId)
      inFlight.add(e.echoId)
      deps.send(e).then(
        (r) => {
          inFlight.delete(e.echoId)
          if (entries.some((x) => x.echoId === e.echoId)) settle(e, r.message, null)
          pump()
        },
        (err: ParleyError) => {
          inFlight.delete(e.echoId)
          if (err.code === 'disconnected' || err.code === 'closed') return // re-sent when live again
          if (RETRYABLE.has(err.code) || err.code === 'timeout') {
            retryTimers.set(e.echoId, setTimeout(() => {
              retryTimers.delete(e.echoId)
              pump()
            }, err.retryAfterMs ?? DEFAULT_RETRY_MS))
            return
          }
          if (entries.some((x) => x.echoId === e.echoId)) settle(e, null, err)
          pump()
        },
      )
    }
  }

  return {
    add,
    acknowledged,
    /** the socket is synced: send; or it dropped: wait */
    setLive(on: boolean): void {
      live = on
      if (on) {
        persist(null, null)
        pump()
      }
    },
    /** what is waiting, oldest first */
    entries: (): OutboxEntry[] => entries.map((e) => ({ ...e })),
    /** the client is closed: pending sends are rejected, entries stay in storage */
    close(err: ParleyError): void {
      live = false
      for (const t of retryTimers.values()) clearTimeout(t)
      retryTimers.clear()
      for (const w of waiters.values()) w.reject(err)
      waiters.clear()
    },
  }
}
export type Outbox = ReturnType<typeof createOutbox>
