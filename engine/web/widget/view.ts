/// <reference lib="dom" />
// The widget's markup inside its shadow root: launcher (with unread badge), panel (header with
// presence/connection line, message log with "earlier messages", typing line, CSAT form, composer).
// Only structure and text setters live here; widget/app.ts decides what to show.
import { clock, h, text } from '../dom.js'
import { CSS } from './styles.js'
import type { Message } from '../../client/types.js'

const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>'

export type Pending = { key: string; content: string }

export function createView(root: ShadowRoot, title: string) {
  const style = h('style', { text: CSS })
  const badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true })
  const unreadText = h('span', { class: 'vh', id: 'unread' })
  const launcher = h('button', { class: 'launcher', type: 'button', 'aria-label': 'Open chat', 'aria-expanded': 'false', 'aria-controls': 'panel', 'aria-describedby': 'unread' })
  launcher.innerHTML = ICON // a constant: no user data
  launcher.append(badge)

  const heading = h('h2', { id: 'ptitle', text: title })
  const status = h('div', { class: 'status', role: 'status' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span'))
  const closeBtn = h('button', { class: 'close', type: 'button', 'aria-label': 'Close chat', text: '×' })
  const more = h('button', { class: 'more', type: 'button', hidden: true, text: 'Load earlier messages' })
  const items = h('div', { class: 'items', style: 'display:contents' })
  const greet = h('p', { class: 'msg act', text: 'Hi! Ask us anything: we answer right here.' })
  const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Messages', tabindex: '0' }, more, greet, items)
  const typing = h('div', { class: 'typing', 'aria-live': 'polite' })
  const note = h('div', { class: 'note', hidden: true })
  const error = h('div', { class: 'err', role: 'alert', hidden: true })

  const stars: HTMLButtonElement[] = []
  for (let i = 1; i <= 5; i++) stars.push(h('button', { type: 'button', 'aria-label': `Rate ${i} out of 5`, 'aria-pressed': 'false', 'data-score': i, text: String(i) }))
  const comment = h('textarea', { 'aria-label': 'Comment (optional)', placeholder: 'Tell us more (optional)', maxlength: 2000 })
  const submit = h('button', { class: 'primary', type: 'button', disabled: true, text: 'Submit rating' })
  const csatLabel = h('div', { id: 'csatq', text: 'How would you rate this conversation?' })
  const csat = h('div', { class: 'csat', role: 'group', 'aria-labelledby': 'csatq', hidden: true },
    csatLabel, h('div', { class: 'stars' }, ...stars), comment, submit)

  const input = h('textarea', { 'aria-label': 'Type your message', placeholder: 'Type your message', rows: 1 })
  const send = h('button', { class: 'send', type: 'button', text: 'Send' })
  const composer = h('div', { class: 'composer' }, input, send)

  const panel = h('section', { class: 'panel', id: 'panel', role: 'dialog', 'aria-labelledby': 'ptitle', hidden: true },
    h('div', { class: 'head' }, h('div', { style: 'flex:1;min-width:0' }, heading, status), closeBtn),
    error, log, typing, note, csat, composer)
  root.append(style, panel, launcher, unreadText)

  const nodes = new Map<string, HTMLElement>()
  const pendingNodes = new Map<string, HTMLElement>()
  const receiptEl = h('div', { class: 'meta' })

  function bubble(m: Message): HTMLElement {
    let el = nodes.get(m.id)
    const cls = m.type === 'activity' ? 'msg act' : m.type === 'incoming' ? 'msg in' : 'msg out'
    if (el === undefined) {
      el = h('div', { class: cls, 'data-id': m.id })
      nodes.set(m.id, el)
    }
    text(el, m.content)
    el.title = clock(m.createdAt)
    el.className = cls
    return el
  }

  return {
    launcher, panel, closeBtn, more, log, input, send, stars, comment, submit, csat,
    setTitle: (t: string) => text(heading, t),
    setStatus: (label: string, on: boolean) => {
      text(status.lastChild as Element, label)
      status.classList.toggle('on', on)
    },
    setUnread: (n: number) => {
      badge.hidden = n === 0
      text(badge, n > 99 ? '99+' : String(n))
      text(unreadText, n === 0 ? '' : `${n} unread message${n === 1 ? '' : 's'}`)
    },
    setOpen: (open: boolean) => {
      panel.hidden = !open
      launcher.setAttribute('aria-expanded', String(open))
      launcher.setAttribute('aria-label', open ? 'Hide chat' : 'Open chat')
    },
    setTyping: (label: string) => text(typing, label),
    setNote: (label: string | null) => {
      note.hidden = label === null
      text(note, label ?? '')
    },
    setError: (label: string | null) => {
      error.hidden = label === null
      text(error, label ?? '')
    },
    /** the conversation's messages in order, then what is still being sent; `receipt` under the visitor's last one */
    render: (messages: readonly Message[], pending: readonly Pending[], receipt: string | null) => {
      const want: HTMLElement[] = []
      let lastMine: Message | undefined
      for (const m of messages) if (m.type === 'incoming') lastMine = m
      for (const m of messages) {
        if (m.private) continue
        want.push(bubble(m))
        if (m === lastMine && receipt !== null && pending.length === 0) {
          text(receiptEl, receipt)
          want.push(receiptEl)
        }
      }
      const keep = new Set<string>()
      for (const p of pending) {
        keep.add(p.key)
        let el = pendingNodes.get(p.key)
        if (el === undefined) pendingNodes.set(p.key, (el = h('div', { class: 'msg in pending', text: p.content })))
        want.push(el)
      }
      for (const k of pendingNodes.keys()) if (!keep.has(k)) pendingNodes.delete(k)
      greet.hidden = want.length > 0
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40
      // move only what is out of place: a screen reader hears new messages, not the whole log again
      let cur = items.firstChild
      for (const el of want) {
        if (cur === el) cur = cur.nextSibling
        else items.insertBefore(el, cur)
      }
      while (cur !== null) {
        const n = cur.nextSibling
        cur.remove()
        cur = n
      }
      if (atBottom) log.scrollTop = log.scrollHeight
    },
    scrollToEnd: () => void (log.scrollTop = log.scrollHeight),
    clear: () => {
      nodes.clear()
      pendingNodes.clear()
      items.replaceChildren()
    },
  }
}
export type View = ReturnType<typeof createView>
