/// <reference lib="dom" />
// The widget client's events: the first sync (the conversation the hello names, the unread count,
// 'ready'), new and changed messages, the conversation, support's typing, presence and connection
// state for the status line, and a closed client's error. Returns the listeners' removers.
import type { WidgetClient } from '../../client/browser.js'
import type { ContactConversation } from '../../client/types.js'
import type { WidgetEvent, WidgetState } from './state.js'
import type { View } from './view.js'

const TYPING_SHOW_MS = 8000

export function attachEvents(c: WidgetClient, s: WidgetState, o: {
  view: View; render: () => void; seen: () => void; line: () => void; emit: (ev: WidgetEvent, data?: unknown) => void
  /** the conversation shown (app.ts) */
  conversation: () => ContactConversation | null
}): (() => void)[] {
  const { view, render, seen, line, emit, conversation } = o
  let theirTyping: ReturnType<typeof setTimeout> | undefined
  return [
    c.on('state', () => line()),
    c.on('presence.updated', () => line()),
    c.on('synced', () => {
      const hello = c.hello as { conversation?: ContactConversation | null } | null
      if (s.convId === null && hello?.conversation) s.convId = hello.conversation.id
      if (!s.ready) {
        s.ready = true
        const cv = conversation()
        if (s.convId !== null) {
          const msgs = c.messages(s.convId)
          view.more.hidden = msgs.length < 50
          const lastSeen = cv?.contactLastSeenAt ?? 0
          s.unread = msgs.filter((m) => m.type === 'outgoing' && !m.private && m.createdAt > lastSeen).length
        }
        view.setUnread(s.isOpen ? 0 : s.unread)
        emit('ready')
      }
      line()
      render()
      seen()
    }),
    c.on('message.created', ({ message: m }) => {
      if (m.conversationId !== s.convId) return
      if (s.ready) emit('message', m)
      if (m.type === 'outgoing') {
        view.setTyping('')
        if (!s.isOpen && s.ready && !m.private) view.setUnread(++s.unread)
      }
      render()
      seen()
    }),
    c.on('message.updated', ({ message: m }) => void (m.conversationId === s.convId && render())),
    c.on('conversation.updated', ({ conversation: cv }) => void (cv.id === s.convId && render())),
    c.on('typing', (d) => {
      if (d.conversationId !== s.convId || d.sender.type === 'contact') return
      clearTimeout(theirTyping)
      view.setTyping(d.on ? 'Support is typing…' : '')
      if (d.on) theirTyping = setTimeout(() => view.setTyping(''), TYPING_SHOW_MS)
    }),
    c.on('error', (err) => {
      emit('error', { code: err.code, message: err.message })
      if (c.state === 'closed') {
        s.dead = true
        view.setStatus('Unavailable', false)
        view.setError(err.code === 'unauthorized' || err.code === 'forbidden'
          ? 'Chat is not available on this page: the website token was not accepted.'
          : `Chat is not available right now (${err.message}).`)
      }
    }),
  ]
}
