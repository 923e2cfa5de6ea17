/// <reference lib="dom" />
// The widget's two self-contained controls: "Load earlier messages" (history paging that keeps
// the reader's place) and the rating form (1–5 and an optional comment, once resolved). They read
// the current client and conversation through `ctx`, so a restarted client (setUser, reset) is used.
import type { WidgetClient } from '../../client/browser.js'
import type { View } from './view.js'

export type ControlsCtx = {
  view: View
  client: () => WidgetClient
  conversationId: () => string | null
  render: () => void
  fail: (err: unknown) => void
}

export function wireControls(ctx: ControlsCtx): void {
  const { view } = ctx
  let score = 0
  view.more.addEventListener('click', async () => {
    const id = ctx.conversationId()
    if (id === null) return
    const client = ctx.client()
    const first = client.messages(id)[0]
    const r = await client.history(id, first === undefined ? { limit: 50 } : { before: first.id, limit: 50 }).catch(() => null)
    if (r === null) return
    view.more.hidden = !r.more
    const keep = view.log.scrollHeight - view.log.scrollTop
    ctx.render()
    view.log.scrollTop = view.log.scrollHeight - keep
  })
  for (const b of view.stars) {
    b.addEventListener('click', () => {
      score = Number(b.dataset['score'])
      for (const x of view.stars) x.setAttribute('aria-pressed', String(x === b))
      view.submit.disabled = false
    })
  }
  view.submit.addEventListener('click', async () => {
    const id = ctx.conversationId()
    if (id === null || score === 0) return
    view.submit.disabled = true
    const comment = view.comment.value.trim()
    try {
      await ctx.client().rate(id, score, comment === '' ? undefined : comment)
    } catch (err) {
      view.submit.disabled = false
      ctx.fail(err)
    }
    ctx.render()
  })
}
