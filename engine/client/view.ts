// What the app hears: every message and conversation change goes through here into the held view
// (store.ts) and out as an event, once. Messages of the ordered stream (events, resync) are told
// in id order as the stream cursor passes them; a send's own reply is held silently (told when the
// stream reaches it). Resync's findings (resync.ts) are told as the events they stand for.
import type { Emitter } from './emitter.js'
import type { Outbox } from './outbox.js'
import type { AnyConversation, HeldStore } from './store.js'
import type { ClientEvents } from './types.js'
import type { EventFrame, Message } from '../wire.js'

export function createView(deps: {
  held: HeldStore
  emitter: Emitter<ClientEvents>
  outbox: Outbox
  role: 'agent' | 'contact'
  onPresence: ((d: ClientEvents['presence.updated']) => void) | undefined
}) {
  const { held, emitter } = deps
  const emit = emitter.emit
  const typingOn = new Map<string, ClientEvents['typing']>()

  /**
   * A message of the ordered stream (an event, or resync): told once, in id order. One at or before
   * the cursor was told already (or came with an app's history call): only its contents may update.
   */
  function streamMessage(m: Message): void {
    deps.outbox.acknowledged(m)
    if (held.advance(m)) {
      held.putMessage(m)
      emit('message.created', { message: m })
    } else if (held.putMessage(m) === 'updated') emit('message.updated', { message: m })
  }

  function applyEvent(ev: EventFrame): void {
    switch (ev.type) {
      case 'message.created':
        return streamMessage(ev.data.message)
      case 'message.updated': {
        const m = ev.data.message
        if (held.hasMessage(m.conversationId, m.id) && held.putMessage(m) === 'same') return
        return emit('message.updated', ev.data)
      }
      case 'conversation.created':
      case 'conversation.updated':
        held.putConversation(ev.data.conversation)
        return emit(ev.type, ev.data as never)
      case 'typing': {
        const k = `${ev.data.conversationId} ${ev.data.sender.type} ${ev.data.sender.id}`
        if (ev.data.on) typingOn.set(k, ev.data)
        else typingOn.delete(k)
        return emit('typing', ev.data)
      }
      case 'presence.updated':
        deps.onPresence?.(ev.data)
        return emit('presence.updated', ev.data)
      default:
        // an event type newer than this SDK: pass it on as is
        return emit((ev as { type: never }).type, (ev as { data: never }).data)
    }
  }

  return {
    streamMessage,
    applyEvent,
    /** resync found a conversation (new to the client, or changed while away) */
    conversation(c: AnyConversation, isNew: boolean): void {
      const changed = held.putConversation(c)
      if (isNew && deps.role === 'agent') emit('conversation.created', { conversation: c as never })
      else if (changed.length > 0) emit('conversation.updated', { conversation: c, changed: isNew ? Object.keys(c) : changed })
    },
    removed(conversationId: string, code: string): void {
      held.remove(conversationId)
      emit('conversation.removed', { conversationId, code })
    },
    statusChanged(m: Message): void {
      if (held.putMessage(m) === 'updated') emit('message.updated', { message: m })
    },
    /** typing indicators do not survive a reconnect: the ones left on are turned off */
    clearTyping(tell: boolean): void {
      if (tell) for (const t of typingOn.values()) emit('typing', { ...t, on: false })
      typingOn.clear()
    },
  }
}
export type View = ReturnType<typeof createView>
