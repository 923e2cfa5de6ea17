/// <reference lib="dom" />
// The console's conversation view: display id, contact, status, assignee and a live waiting-since
// timer; history with "Load earlier messages"; reply or private note (Enter sends, Shift+Enter new
// line); typing both ways; read receipts; assign (with the expected-assignee check: a conflict is
// shown and nothing is overwritten), resolve / snooze / reopen.
import type { AgentClient } from '../../client/browser.js'
import type { Agent, Conversation, Message } from '../../client/types.js'
import { clock, h, since, text } from '../dom.js'

const SNOOZE_MS = 60 * 60 * 1000

export function createThread(o: { client: AgentClient; me: () => Agent | null; agents: () => Agent[]; agentName: (id: string | null) => string }) {
  const { client } = o
  let id: string | null = null
  let more = false
  /** the assignee shown when the agent picked another one in the select (undefined: no pending choice) */
  let chosenFrom: string | null | undefined
  let typingSent = false
  let typingOff: ReturnType<typeof setTimeout> | undefined
  let theirs: ReturnType<typeof setTimeout> | undefined

  const title = h('h2', { id: 'thread-title' })
  const meta = h('p', { class: 'meta' })
  const waiting = h('span', { class: 'waiting' })
  const alert = h('p', { class: 'alert', role: 'alert' })
  const mine = h('button', { type: 'button', text: 'Assign to me' })
  const pick = h('select', { 'aria-label': 'Assignee' })
  const assign = h('button', { type: 'button', text: 'Assign' })
  const resolve = h('button', { type: 'button', text: 'Resolve' })
  const snooze = h('button', { type: 'button', text: 'Snooze 1 hour' })
  const reopen = h('button', { type: 'button', text: 'Reopen' })
  const earlier = h('button', { type: 'button', class: 'more', hidden: true, text: 'Load earlier messages' })
  const items = h('div', { style: 'display:contents' })
  const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Messages', tabindex: '0' }, earlier, items)
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' })
  const input = h('textarea', { 'aria-label': 'Reply', placeholder: 'Reply… (Enter sends, Shift+Enter new line)', rows: 3 })
  const note = h('input', { type: 'checkbox', id: 'private-note' })
  const send = h('button', { type: 'button', class: 'primary', text: 'Send' })
  const empty = h('p', { class: 'empty', text: 'Select a conversation.' })
  const body = h('div', { class: 'thread-body', hidden: true },
    h('header', { class: 'thread-head' }, title, meta, waiting,
      h('div', { class: 'actions', role: 'group', 'aria-label': 'Conversation actions' }, mine, pick, assign, resolve, snooze, reopen)),
    alert, log, typing,
    h('div', { class: 'composer' }, input, h('div', { class: 'row' }, h('label', { for: 'private-note' }, note, ' Private note'), send)))
  const el = h('main', { class: 'thread', 'aria-labelledby': 'thread-title' }, empty, body)
  const nodes = new Map<string, HTMLElement>()
  const receipt = h('div', { class: 'receipt' })

  const conv = () => (id === null ? null : (client.conversation(id) as Conversation | null))
  const fail = (err: unknown) => text(alert, `${(err as { code?: string }).code === 'conflict' ? 'Conflict' : 'Error'}: ${(err as Error).message}`)

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

  function drawHead(): void {
    const c = conv()
    if (c === null) return
    const attrs = c.additionalAttributes as { referrer?: unknown }
    text(title, `#${c.displayId} · Contact ${c.contactId.slice(0, 12)}`)
    text(meta, `Status: ${c.status}${c.status === 'snoozed' && c.snoozedUntil !== null ? ` until ${clock(c.snoozedUntil)}` : ''} · Assignee: ${c.assigneeId === null ? 'nobody' : o.agentName(c.assigneeId)}${typeof attrs.referrer === 'string' ? ` · from ${attrs.referrer}` : ''}${c.rating ? ` · Rating: ${c.rating.score}/5${c.rating.comment ? ` “${c.rating.comment}”` : ''}` : ''}`)
    tick()
    mine.disabled = c.assigneeId === o.me()?.id
    resolve.hidden = c.status === 'resolved'
    snooze.hidden = c.status === 'resolved' || c.status === 'snoozed'
    reopen.hidden = c.status === 'open'
    if (chosenFrom === undefined) {
      const opts = [h('option', { value: '', text: 'Unassigned' }), ...o.agents().filter((a) => a.inboxIds.includes(c.inboxId) || a.role === 'administrator').map((a) => h('option', { value: a.id, text: a.name }))]
      pick.replaceChildren(...opts)
      pick.value = c.assigneeId ?? ''
    }
  }

  function tick(): void {
    const c = conv()
    text(waiting, c?.waitingSince ? `Waiting ${since(c.waitingSince)}` : c === null ? '' : 'Not waiting')
  }

  function stopTyping(): void {
    clearTimeout(typingOff)
    if (typingSent && id !== null) client.typing(id, false).catch(() => {})
    typingSent = false
  }

  async function submit(): Promise<void> {
    const content = input.value
    if (id === null || content.trim() === '') return
    input.value = ''
    stopTyping()
    const p = client.send(id, content, note.checked ? { private: true } : {})
    drawMessages()
    await p.catch(fail)
    drawMessages()
  }

  async function act(fn: () => Promise<Conversation>): Promise<void> {
    text(alert, '')
    try {
      await fn()
    } catch (err) {
      fail(err)
      // the server's state, not our stale one: re-read it
      if (id !== null) await client.get(id).catch(() => {})
    }
    chosenFrom = undefined
    drawHead()
  }

  mine.addEventListener('click', () => void act(() => client.assign(id as string, o.me()?.id ?? null, conv()?.assigneeId ?? null)))
  pick.addEventListener('change', () => {
    if (chosenFrom === undefined) chosenFrom = conv()?.assigneeId ?? null
  })
  assign.addEventListener('click', () => {
    const expected = chosenFrom === undefined ? conv()?.assigneeId ?? null : chosenFrom
    void act(() => client.assign(id as string, pick.value === '' ? null : pick.value, expected))
  })
  resolve.addEventListener('click', () => void act(() => client.setStatus(id as string, 'resolved')))
  snooze.addEventListener('click', () => void act(() => client.setStatus(id as string, 'snoozed', Date.now() + SNOOZE_MS)))
  reopen.addEventListener('click', () => void act(() => client.setStatus(id as string, 'open')))
  send.addEventListener('click', () => void submit())
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      void submit()
    }
  })
  input.addEventListener('input', () => {
    if (id === null || note.checked) return
    if (!typingSent) {
      typingSent = true
      client.typing(id, true).catch(() => {})
    }
    clearTimeout(typingOff)
    typingOff = setTimeout(stopTyping, 3000)
  })
  input.addEventListener('blur', stopTyping)
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
      stopTyping()
      id = c.id
      chosenFrom = undefined
      nodes.clear()
      items.replaceChildren()
      text(alert, '')
      text(typing, '')
      empty.hidden = true
      body.hidden = false
      drawHead()
      try {
        await client.get(c.id)
        const r = await client.history(c.id, { limit: 50 })
        if (id !== c.id) return
        more = r.more
      } catch (err) {
        fail(err)
      }
      drawHead()
      drawMessages()
      log.scrollTop = log.scrollHeight
      seen()
      input.focus()
    },
    onMessage(m: Message): void {
      if (m.conversationId !== id) return
      if (m.type === 'incoming') text(typing, '')
      drawMessages()
      seen()
    },
    onConversation(c: Conversation): void {
      if (c.id === id) drawHead()
    },
    onTyping(d: { conversationId: string; on: boolean; sender: { type: string; id: string } }): void {
      if (d.conversationId !== id) return
      const who = d.sender.type === 'contact' ? 'Visitor' : o.agentName(d.sender.id)
      clearTimeout(theirs)
      text(typing, d.on ? `${who} is typing…` : '')
      if (d.on) theirs = setTimeout(() => text(typing, ''), 8000)
    },
    redraw(): void {
      drawHead()
      drawMessages()
      seen()
    },
    tick,
  }
}
