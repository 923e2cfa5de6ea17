/// <reference lib="dom" />
// What the visitor sends: a message (the first one opens the conversation, shown as sending until
// then; a failed open puts the text back), and the visitor's typing indicator (on at the first
// keystroke, off after 3 s idle, on send or on blur).
import { createTypingOut } from '../typing.js'
import type { WidgetEvent, WidgetState } from './state.js'
import type { View } from './view.js'

export function createSender(s: WidgetState, o: { view: View; render: () => void; emit: (ev: WidgetEvent, data?: unknown) => void }) {
  const { view, render, emit } = o
  const typing = createTypingOut((on) => {
    if (s.convId !== null) s.client.typing(s.convId, on).catch(() => {})
  })
  const stopTyping = typing.stop

  async function submit(): Promise<void> {
    const content = view.input.value
    if (content.trim() === '' || s.dead) return
    view.input.value = ''
    stopTyping()
    const echoId = `w${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`
    const c = s.client
    if (s.convId === null) {
      s.pending.push({ key: echoId, echoId, content })
      render()
      try {
        await c.whenSynced()
        if (s.convId === null) s.convId = (await c.openConversation({ referrer: location.href, browserLanguage: navigator.language })).id
      } catch (err) {
        s.pending = s.pending.filter((p) => p.echoId !== echoId)
        view.input.value = content
        render()
        return emit('error', { code: (err as { code?: string }).code ?? 'internal', message: (err as Error).message })
      }
    }
    if (c !== s.client) return
    const p = c.send(s.convId as string, content, { echoId })
    s.pending = s.pending.filter((x) => x.echoId !== echoId)
    render()
    p.then(render, (err: { code?: string; message?: string }) => {
      emit('error', { code: err.code ?? 'internal', message: err.message ?? String(err) })
      render()
    })
  }

  function onInput(): void {
    if (s.convId !== null && !s.dead) typing.input()
  }

  return { submit, onInput, stopTyping }
}
