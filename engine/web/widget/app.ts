/// <reference lib="dom" />
// The widget's behaviour on one SDK widget client: which conversation is shown, sending (the first
// message opens the conversation), typing both ways, unread count and seen, presence and
// connection line, resolved state and CSAT (the rating form and history paging: controls.ts).
// `restart` swaps the client (setUser, reset) and keeps the page's listeners. Events for
// window.parley go out through `emit`. The client's events are handled in events.ts, sending and
// the visitor's typing in sender.ts, all on one WidgetState (state.ts).
import { createWidgetClient, type WidgetClient } from '../../client/browser.js'
import type { ContactConversation, Message } from '../../client/types.js'
import { wireControls } from './controls.js'
import { attachEvents } from './events.js'
import { createSender } from './sender.js'
import type { View } from './view.js'
import type { WidgetEvent, WidgetState } from './state.js'

export type { WidgetEvent } from './state.js'
export type Identity = { identifier: string; identifierHash: string }


export function createApp(o: { url: string; websiteToken: string; view: View; emit: (ev: WidgetEvent, data?: unknown) => void; openStore: Storage | null }) {
  const { view, emit } = o
  const st: WidgetState = {
    client: null as unknown as WidgetClient, convId: null, isOpen: o.openStore?.getItem('parley:open') === '1',
    ready: false, unread: 0, pending: [], dead: false,
  }
  let offs: (() => void)[] = []

  const conversation = () => (st.convId === null ? null : (st.client.conversation(st.convId) as ContactConversation | null))

  function render(): void {
    if (st.convId === null) view.render([], st.pending, null)
    else {
      const msgs = st.client.messages(st.convId)
      const held = new Set(msgs.map((m) => m.echoId))
      const outbox = st.client.outbox().filter((e) => e.conversationId === st.convId && !held.has(e.echoId))
      st.pending = st.pending.filter((p) => !held.has(p.echoId))
      const shown = new Set(st.pending.map((p) => p.echoId))
      const all = [...st.pending, ...outbox.filter((e) => !shown.has(e.echoId)).map((e) => ({ key: e.echoId, echoId: e.echoId, content: e.content }))]
      let last: Message | undefined
      for (const m of msgs) if (m.type === 'incoming') last = m
      view.render(msgs, all, last === undefined ? null : last.status === 'read' ? 'Read' : 'Sent')
    }
    const c = conversation()
    const resolved = c?.status === 'resolved'
    view.setNote(resolved ? (c?.rating ? `Thanks for your feedback (${c.rating.score} out of 5).` : 'This conversation was resolved. Write again any time.') : null)
    view.csat.hidden = !(resolved && c?.rating === null)
  }

  function line(): void {
    const state = st.client.state
    if (st.dead) return
    if (st.ready && state !== 'open') return view.setStatus('Reconnecting…', false)
    const on = st.client.inbox()?.agentsOnline === true
    view.setStatus(on ? 'Agents online' : 'We will reply soon', on)
  }

  function seen(): void {
    if (!st.isOpen || st.convId === null || document.visibilityState === 'hidden') return
    st.unread = 0
    view.setUnread(0)
    const msgs = st.client.messages(st.convId)
    const c = conversation()
    const newest = [...msgs].reverse().find((m) => m.type === 'outgoing' && !m.private)
    if (newest === undefined || (c?.contactLastSeenAt ?? 0) >= newest.createdAt) return
    st.client.markSeen(st.convId).catch(() => {}) // seen again after the next message or reconnect
  }

  function start(identity: Identity | null): void {
    st.client = createWidgetClient({ url: o.url, websiteToken: o.websiteToken, ...(identity === null ? {} : identity) })
    offs = attachEvents(st.client, st, { view, render, seen, line, emit, conversation })
    line()
  }

  const sender = createSender(st, { view, render, emit })
  function setOpen(open: boolean, focus = true): void {
    if (open === st.isOpen) return
    st.isOpen = open
    o.openStore?.setItem('parley:open', open ? '1' : '0')
    view.setOpen(open)
    if (open) {
      view.scrollToEnd()
      if (focus) view.input.focus()
      seen()
    } else if (focus) view.launcher.focus()
    emit(open ? 'open' : 'close')
  }

  // ---- DOM wiring (once; the handlers read the current client) ----
  view.setOpen(st.isOpen)
  view.launcher.addEventListener('click', () => setOpen(!st.isOpen))
  view.closeBtn.addEventListener('click', () => setOpen(false))
  view.panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') setOpen(false)
  })
  view.send.addEventListener('click', () => void sender.submit())
  view.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      void sender.submit()
    }
  })
  view.input.addEventListener('input', sender.onInput)
  view.input.addEventListener('blur', sender.stopTyping)
  wireControls({
    view, render, client: () => st.client, conversationId: () => st.convId,
    fail: (err) => emit('error', { code: (err as { code?: string }).code ?? 'internal', message: (err as Error).message }),
  })
  document.addEventListener('visibilitychange', seen)

  return {
    start,
    get isOpen() { return st.isOpen },
    get ready() { return st.ready },
    setOpen,
    /** a new client (another identity, or a fresh anonymous visitor); the page's listeners stay */
    restart(identity: Identity | null): void {
      for (const off of offs) off()
      st.client.close()
      st.convId = null
      st.ready = false
      st.dead = false
      st.unread = 0
      st.pending = []
      view.clear()
      view.setError(null)
      view.setUnread(0)
      render()
      start(identity)
    },
    client: () => st.client,
  }
}
export type App = ReturnType<typeof createApp>
