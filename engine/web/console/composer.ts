/// <reference lib="dom" />
// The console's reply box: reply or private note (Enter sends, Shift+Enter new line) and the
// agent's typing indicator (on at the first keystroke, off after 3 s idle, on send or on blur;
// never for a private note).
import type { AgentClient } from '../../client/browser.js'
import { h } from '../dom.js'
import { createTypingOut } from '../typing.js'

export function createComposer(o: {
  client: AgentClient
  /** the conversation shown, null before one is picked */
  current: () => string | null
  /** redraws the messages (the pending one shows at once, then as sent) */
  sent: () => void
  fail: (err: unknown) => void
}) {
  const { client } = o
  const typing = createTypingOut((on) => {
    const id = o.current()
    if (id !== null) client.typing(id, on).catch(() => {})
  })
  const stopTyping = typing.stop

  const input = h('textarea', { 'aria-label': 'Reply', placeholder: 'Reply… (Enter sends, Shift+Enter new line)', rows: 3 })
  const note = h('input', { type: 'checkbox', id: 'private-note' })
  const send = h('button', { type: 'button', class: 'primary', text: 'Send' })
  const el = h('div', { class: 'composer' }, input, h('div', { class: 'row' }, h('label', { for: 'private-note' }, note, ' Private note'), send))

  async function submit(): Promise<void> {
    const id = o.current()
    const content = input.value
    if (id === null || content.trim() === '') return
    input.value = ''
    stopTyping()
    const p = client.send(id, content, note.checked ? { private: true } : {})
    o.sent()
    await p.catch(o.fail)
    o.sent()
  }

  send.addEventListener('click', () => void submit())
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      void submit()
    }
  })
  input.addEventListener('input', () => {
    if (o.current() !== null && !note.checked) typing.input()
  })
  input.addEventListener('blur', stopTyping)

  return { el, stopTyping, focus: () => input.focus() }
}
