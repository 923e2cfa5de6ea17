/// <reference lib="dom" />
// The widget's behaviour on one SDK widget client: which conversation is shown, sending (the first
// message opens the conversation), typing both ways, unread count and seen, presence and
// connection line, resolved state and CSAT (the rating form and history paging: controls.ts).
// `restart` swaps the client (setUser, reset) and keeps the page's listeners. Events for
// window.parley go out through `emit`.
import { createWidgetClient, type WidgetClient } from '../../client/browser.js'
import type { ContactConversation, Message } from '../../client/types.js'
import { wireControls } from './controls.js'
import type { Pending, View } from './view.js'

export type WidgetEvent = 'ready' | 'message' | 'open' | 'close' | 'error'
export type Identity = { identifier: string; identifierHash: string }

const TYPING_IDLE_MS = 3000
const TYPING_SHOW_MS = 8000

export function createApp(o: { url: string; websiteToken: string; view: View; emit: (ev: WidgetEvent, data?: unknown) => void; openStore: Storage | null }) {
  const { view, emit } = o
  let client: WidgetClient
  let convId: string | null = null
  let isOpen = o.openStore?.getItem('parley:open') === '1'
  let ready = false
  let unread = 0
  let typingOff: ReturnType<typeof setTimeout> | undefined
  let typingSent = false
  let theirTyping: ReturnType<typeof setTimeout> | undefined
  let pending: (Pending & { echoId: string })[] = []
  let offs: (() => void)[] = []
  let dead = false

  const conversation = () => (convId === null ? null : (client.conversation(convId) as ContactConversation | null))

  function render(): void {
    if (convId === null) view.render([], pending, null)
    else {
      const msgs = client.messages(convId)
      const held = new Set(msgs.map((m) => m.echoId))
      const outbox = client.outbox().filter((e) => e.conversationId === convId && !held.has(e.echoId))
      pending = pending.filter((p) => !held.has(p.echoId))
      const shown = new Set(pending.map((p) => p.echoId))
      const all = [...pending, ...outbox.filter((e) => !shown.has(e.echoId)).map((e) => ({ key: e.echoId, echoId: e.echoId, content: e.content }))]
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
    const state = client.state
    if (dead) return
    if (ready && state !== 'open') return view.setStatus('Reconnecting…', false)
    const on = client.inbox()?.agentsOnline === true
    view.setStatus(on ? 'Agents online' : 'We will reply soon', on)
  }

  function seen(): void {
    if (!isOpen || convId === null || document.visibilityState === 'hidden') return
    unread = 0
    view.setUnread(0)
    const msgs = client.messages(convId)
    const c = conversation()
    const newest = [...msgs].reverse().find((m) => m.type === 'outgoing' && !m.private)
    if (newest === undefined || (c?.contactLastSeenAt ?? 0) >= newest.createdAt) return
    client.markSeen(convId).catch(() => {}) // seen again after the next message or reconnect
  }

  function attach(c: WidgetClient): void {
    offs = [
      c.on('state', () => line()),
      c.on('presence.updated', () => line()),
      c.on('synced', () => {
        const hello = c.hello as { conversation?: ContactConversation | null } | null
        if (convId === null && hello?.conversation) convId = hello.conversation.id
        if (!ready) {
          ready = true
          const cv = conversation()
          if (convId !== null) {
            const msgs = c.messages(convId)
            view.more.hidden = msgs.length < 50
            const lastSeen = cv?.contactLastSeenAt ?? 0
            unread = msgs.filter((m) => m.type === 'outgoing' && !m.private && m.createdAt > lastSeen).length
          }
          view.setUnread(isOpen ? 0 : unread)
          emit('ready')
        }
        line()
        render()
        seen()
      }),
      c.on('message.created', ({ message: m }) => {
        if (m.conversationId !== convId) return
        if (ready) emit('message', m)
        if (m.type === 'outgoing') {
          view.setTyping('')
          if (!isOpen && ready && !m.private) view.setUnread(++unread)
        }
        render()
        seen()
      }),
      c.on('message.updated', ({ message: m }) => void (m.conversationId === convId && render())),
      c.on('conversation.updated', ({ conversation: cv }) => void (cv.id === convId && render())),
      c.on('typing', (d) => {
        if (d.conversationId !== convId || d.sender.type === 'contact') return
        clearTimeout(theirTyping)
        view.setTyping(d.on ? 'Support is typing…' : '')
        if (d.on) theirTyping = setTimeout(() => view.setTyping(''), TYPING_SHOW_MS)
      }),
      c.on('error', (err) => {
        emit('error', { code: err.code, message: err.message })
        if (c.state === 'closed') {
          dead = true
          view.setStatus('Unavailable', false)
          view.setError(err.code === 'unauthorized' || err.code === 'forbidden'
            ? 'Chat is not available on this page: the website token was not accepted.'
            : `Chat is not available right now (${err.message}).`)
        }
      }),
    ]
  }

  function start(identity: Identity | null): void {
    client = createWidgetClient({ url: o.url, websiteToken: o.websiteToken, ...(identity === null ? {} : identity) })
    attach(client)
    line()
  }

  function stopTyping(): void {
    clearTimeout(typingOff)
    if (typingSent && convId !== null) client.typing(convId, false).catch(() => {})
    typingSent = false
  }

  async function submit(): Promise<void> {
    const content = view.input.value
    if (content.trim() === '' || dead) return
    view.input.value = ''
    stopTyping()
    const echoId = `w${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`
    const c = client
    if (convId === null) {
      pending.push({ key: echoId, echoId, content })
      render()
      try {
        await c.whenSynced()
        if (convId === null) convId = (await c.openConversation({ referrer: location.href, browserLanguage: navigator.language })).id
      } catch (err) {
        pending = pending.filter((p) => p.echoId !== echoId)
        view.input.value = content
        render()
        return emit('error', { code: (err as { code?: string }).code ?? 'internal', message: (err as Error).message })
      }
    }
    if (c !== client) return
    const p = c.send(convId as string, content, { echoId })
    pending = pending.filter((x) => x.echoId !== echoId)
    render()
    p.then(render, (err: { code?: string; message?: string }) => {
      emit('error', { code: err.code ?? 'internal', message: err.message ?? String(err) })
      render()
    })
  }

  function onInput(): void {
    if (convId === null || dead) return
    if (!typingSent) {
      typingSent = true
      client.typing(convId, true).catch(() => {})
    }
    clearTimeout(typingOff)
    typingOff = setTimeout(stopTyping, TYPING_IDLE_MS)
  }

  function setOpen(open: boolean, focus = true): void {
    if (open === isOpen) return
    isOpen = open
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
  view.setOpen(isOpen)
  view.launcher.addEventListener('click', () => setOpen(!isOpen))
  view.closeBtn.addEventListener('click', () => setOpen(false))
  view.panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') setOpen(false)
  })
  view.send.addEventListener('click', () => void submit())
  view.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      void submit()
    }
  })
  view.input.addEventListener('input', onInput)
  view.input.addEventListener('blur', stopTyping)
  wireControls({
    view, render, client: () => client, conversationId: () => convId,
    fail: (err) => emit('error', { code: (err as { code?: string }).code ?? 'internal', message: (err as Error).message }),
  })
  document.addEventListener('visibilitychange', seen)

  return {
    start,
    get isOpen() { return isOpen },
    get ready() { return ready },
    setOpen,
    /** a new client (another identity, or a fresh anonymous visitor); the page's listeners stay */
    restart(identity: Identity | null): void {
      for (const off of offs) off()
      client.close()
      convId = null
      ready = false
      dead = false
      unread = 0
      pending = []
      view.clear()
      view.setError(null)
      view.setUnread(0)
      render()
      start(identity)
    },
    client: () => client,
  }
}
export type App = ReturnType<typeof createApp>
