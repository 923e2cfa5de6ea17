/// <reference lib="dom" />
// The console's conversation view: its head (head.ts: who, status, assignee, actions), history with
// "Load earlier messages", the contact's typing, read receipts, and the reply box (composer.ts).
import type { AgentClient } from '../../client/browser.js'
import type { Agent, Conversation, Message } from '../../client/types.js'
import { clock, h, text } from '../dom.js'
import { createComposer } from './composer.js'
import { createHead } from './head.js'

export function createThread(o: { client: AgentClient; me: () => Agent | null; agents: () => Agent[]; agentName: (id: string | null) => string }) {
  const { client } = o
  let id: string | null = null
  let more = false
  let theirs: ReturnType<typeof setTimeout> | undefined

  const earlier = h('button', { type: 'button', class: 'more', hidden: true, text: 'Load earlier messages' })
  const items = h('div', { style: 'display:contents' })
  const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Messages', tabindex: '0' }, earlier, items)
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' })
  const empty = h('p', { class: 'empty', text: 'Select a conversation.' })
  const conv = () => (id === null ? null : (client.conversation(id) as Conversation | null))
  const head = createHead({ client, me: o.me, agents: o.agents, agentName: o.agentName, conv })
  const composer = createComposer({ client, current: () => id, sent: () => drawMessages(), fail: head.fail })
  const body = h('div', { class: 'thread-body', hidden: true }, head.el, head.alert, log, typing, composer.el)
  const el = h('main', { class: 'thread', 'aria-labelledby': 'thread-title' }, empty, body)
  const nodes = new Map<string, HTMLElement>()
  const receipt = h('div', { class: 'receipt' })

  function bubble(m: Message): HTMLElement {
    let b = nodes.get(m.id)
    if (b === undefined) nodes.set(m.id, (b = h('div', { 'data-id': m.id }, h('span', { class: 'from' }), h('div', { class: 'text' }))))
    b.className = `msg ${m.type}${m.private ? ' private' : ''}`
    const from = m.type === 'activity' ? '' : m.type === 'incoming' ? 'Visitor' : `${m.sender.name ?? o.agentName(m.sender.id)}${m.private ? ' · private note' : ''}`
    text(b.firstChild as Element, from === '' ? clock(m.createdAt) : `${from} · ${clock(m.createdAt)}`)
    text(b.lastChild as Element, m.content)
    return b
  }

  function drawMessages(): void {
    if (id === null) return
    const msgs = client.messages(id)
    const want: HTMLElement[] = []
    let last: Message | undefined
    for (const m of msgs) if (m.type === 'outgoing' && !m.private) last = m
    for (const m of msgs) {
      want.push(bubble(m))
      if (m === last) {
        text(receipt, m.status === 'read' ? 'Read' : 'Sent')
        want.push(receipt)
      }
    }
    for (const e of client.outbox()) if (e.conversationId === id) want.push(h('div', { class: `msg outgoing pending${e.private ? ' private' : ''}` }, h('span', { class: 'from', text: 'Sending…' }), h('div', { class: 'text', text: e.content })))
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40
    let cur = items.firstChild
    for (const n of want) {
      if (cur === n) cur = cur.nextSibling
      else items.insertBefore(n, cur)
    }
    while (cur !== null) {
      const n = cur.nextSibling
      cur.remove()
      cur = n
    }
    earlier.hidden = !more
    if (atBottom) log.scrollTop = log.scrollHeight
  }

  earlier.addEventListener('click', async () => {
    if (id === null) return
    const first = client.messages(id)[0]
    const r = await client.history(id, first === undefined ? { limit: 50 } : { before: first.id, limit: 50 }).catch(() => null)
    if (r === null) return
    more = r.more
    const keep = log.scrollHeight - log.scrollTop
    drawMessages()
    log.scrollTop = log.scrollHeight - keep
  })

  function seen(): void {
    const c = conv()
    if (c === null || document.visibilityState === 'hidden') return
    const msgs = client.messages(c.id)
    let newest: Message | undefined
    for (const m of msgs) if (m.type === 'incoming') newest = m
    if (newest !== undefined && (c.agentLastSeenAt ?? 0) < newest.createdAt) client.markSeen(c.id).catch(() => {})
  }

  return {
    el,
    get id() { return id },
    async show(c: Conversation): Promise<void> {
      composer.stopTyping()
      id = c.id
      head.reset()
      nodes.clear()
      items.replaceChildren()
      text(typing, '')
      empty.hidden = true
      body.hidden = false
      head.draw()
      try {
        await client.get(c.id)
        const r = await client.history(c.id, { limit: 50 })
        if (id !== c.id) return
        more = r.more
      } catch (err) {
        head.fail(err)
      }
      head.draw()
      drawMessages()
      log.scrollTop = log.scrollHeight
      seen()
      composer.focus()
    },
    onMessage(m: Message): void {
      if (m.conversationId !== id) return
      if (m.type === 'incoming') text(typing, '')
      drawMessages()
      seen()
    },
    onConversation(c: Conversation): void {
      if (c.id === id) head.draw()
    },
    onTyping(d: { conversationId: string; on: boolean; sender: { type: string; id: string } }): void {
      if (d.conversationId !== id) return
      const who = d.sender.type === 'contact' ? 'Visitor' : o.agentName(d.sender.id)
      clearTimeout(theirs)
      text(typing, d.on ? `${who} is typing…` : '')
      if (d.on) theirs = setTimeout(() => text(typing, ''), 8000)
    },
    redraw(): void {
      head.draw()
      drawMessages()
      seen()
    },
    tick: head.tick,
  }
}
