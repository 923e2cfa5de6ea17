// What the client holds: conversations by id and, for each, its messages ordered by id without
// duplicates. Merging answers "what changed" so the client can tell the app exactly once.
import { compareIds } from './ids.js'
import type { ContactConversation, Conversation, Message } from '../wire.js'

export type AnyConversation = Conversation | ContactConversation
type Held = {
  conversation: AnyConversation | null
  messages: Message[]
  ids: Map<string, number>
  /** messages are followed (resumed on reconnect) once loaded, sent to, or heard of */
  followed: boolean
  /**
   * the last id of the ordered stream (events, resync, the latest history page): where `resume`
   * starts. An acknowledged send is held at once but does not move it — a message before it may
   * still be on its way.
   */
  cursor: string | null
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

export function createHeld() {
  const held = new Map<string, Held>()

  function get(id: string): Held {
    let h = held.get(id)
    if (h === undefined) held.set(id, (h = { conversation: null, messages: [], ids: new Map(), followed: false, cursor: null }))
    return h
  }

  function reindex(h: Held, from: number): void {
    for (let i = from; i < h.messages.length; i++) h.ids.set((h.messages[i] as Message).id, i)
  }

  /** 'new' (inserted in order), 'updated' (a known id whose contents changed) or 'same' */
  function putMessage(m: Message): 'new' | 'updated' | 'same' {
    const h = get(m.conversationId)
    h.followed = true
    const at = h.ids.get(m.id)
    if (at !== undefined) {
      if (same(h.messages[at], m)) return 'same'
      h.messages[at] = m
      return 'updated'
    }
    let i = h.messages.length
    while (i > 0 && compareIds((h.messages[i - 1] as Message).id, m.id) > 0) i--
    h.messages.splice(i, 0, m)
    if (i === h.messages.length - 1) h.ids.set(m.id, i)
    else reindex(h, i)
    return 'new'
  }

  /** the fields that differ (all of them for a conversation not held before); [] when nothing */
  function putConversation(c: AnyConversation): string[] {
    const h = get(c.id)
    const prev = h.conversation as Record<string, unknown> | null
    h.conversation = c
    if (prev === null) return Object.keys(c)
    const next = c as Record<string, unknown>
    // a field the new object lacks is a narrower view (a contact's), not a change
    return Object.keys(next).filter((k) => !same(prev[k], next[k]))
  }

  /** true (and the cursor moves) when the message is past the stream's cursor: new to the app */
  function advance(m: Message): boolean {
    const h = get(m.conversationId)
    if (h.cursor !== null && compareIds(m.id, h.cursor) <= 0) return false
    h.cursor = m.id
    return true
  }

  return {
    get,
    has: (id: string) => held.has(id),
    hasMessage: (id: string, messageId: string) => held.get(id)?.ids.has(messageId) === true,
    ids: () => [...held.keys()],
    putMessage,
    putConversation,
    advance,
    cursor: (id: string) => held.get(id)?.cursor ?? null,
    conversation: (id: string) => held.get(id)?.conversation ?? null,
    messages: (id: string): Message[] => [...(held.get(id)?.messages ?? [])],
    follow: (id: string) => void (get(id).followed = true),
    followed: (id: string) => held.get(id)?.followed === true,
    remove: (id: string) => void held.delete(id),
  }
}
export type HeldStore = ReturnType<typeof createHeld>
