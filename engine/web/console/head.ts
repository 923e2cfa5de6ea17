/// <reference lib="dom" />
// The head of the console's conversation view: display id, contact, status, assignee, rating and a
// live waiting-since timer; assign (with the expected-assignee check: a conflict is shown and
// nothing is overwritten), resolve / snooze / reopen; the alert line where a refused action says why.
import type { AgentClient } from '../../client/browser.js'
import type { Agent, Conversation } from '../../client/types.js'
import { clock, h, since, text } from '../dom.js'

const SNOOZE_MS = 60 * 60 * 1000

export function createHead(o: {
  client: AgentClient; me: () => Agent | null; agents: () => Agent[]; agentName: (id: string | null) => string
  /** the conversation shown, null before one is picked */
  conv: () => Conversation | null
}) {
  const { client, conv } = o
  /** the assignee shown when the agent picked another one in the select (undefined: no pending choice) */
  let chosenFrom: string | null | undefined

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
  const el = h('header', { class: 'thread-head' }, title, meta, waiting,
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Conversation actions' }, mine, pick, assign, resolve, snooze, reopen))

  const fail = (err: unknown) => text(alert, `${(err as { code?: string }).code === 'conflict' ? 'Conflict' : 'Error'}: ${(err as Error).message}`)

  function draw(): void {
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

  async function act(fn: (id: string) => Promise<Conversation>): Promise<void> {
    const c = conv()
    if (c === null) return
    text(alert, '')
    try {
      await fn(c.id)
    } catch (err) {
      fail(err)
      // the server's state, not our stale one: re-read it
      await client.get(c.id).catch(() => {})
    }
    chosenFrom = undefined
    draw()
  }

  mine.addEventListener('click', () => void act((id) => client.assign(id, o.me()?.id ?? null, conv()?.assigneeId ?? null)))
  pick.addEventListener('change', () => {
    if (chosenFrom === undefined) chosenFrom = conv()?.assigneeId ?? null
  })
  assign.addEventListener('click', () => {
    const expected = chosenFrom === undefined ? conv()?.assigneeId ?? null : chosenFrom
    void act((id) => client.assign(id, pick.value === '' ? null : pick.value, expected))
  })
  resolve.addEventListener('click', () => void act((id) => client.setStatus(id, 'resolved')))
  snooze.addEventListener('click', () => void act((id) => client.setStatus(id, 'snoozed', Date.now() + SNOOZE_MS)))
  reopen.addEventListener('click', () => void act((id) => client.setStatus(id, 'open')))

  return {
    el, alert, fail, draw, tick,
    /** another conversation is shown: no pending choice, no alert */
    reset(): void {
      chosenFrom = undefined
      text(alert, '')
    },
  }
}
