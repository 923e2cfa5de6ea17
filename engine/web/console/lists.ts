/// <reference lib="dom" />
// The console's conversation lists: assignee (mine / unassigned / all) × status (open / pending /
// snoozed / resolved) filters, a live list (refreshed shortly after any conversation or message
// event, and on every reconnect by the SDK), paging with "Load more", and new-conversation marks.
import type { AgentClient } from '../../client/browser.js'
import type { Conversation, ConversationStatus } from '../../client/types.js'
import { h, since, text } from '../dom.js'

const ASSIGNEES = [['me', 'Mine'], ['unassigned', 'Unassigned'], ['all', 'All']] as const
const STATUSES = [['open', 'Open'], ['pending', 'Pending'], ['snoozed', 'Snoozed'], ['resolved', 'Resolved']] as const

export function createLists(o: { client: AgentClient; agentName: (id: string | null) => string; onPick: (c: Conversation) => void; isNew: (id: string) => boolean }) {
  let assignee: string = 'all'
  let status: ConversationStatus = 'open'
  let cursor: string | null = null
  let rows: Conversation[] = []
  let selected: string | null = null
  let timer: ReturnType<typeof setTimeout> | undefined
  let gen = 0

  const group = (label: string, opts: readonly (readonly [string, string])[], get: () => string, set: (v: string) => void) => {
    const buttons = opts.map(([v, name]) => h('button', { type: 'button', 'aria-pressed': String(get() === v), 'data-v': v, text: name }))
    for (const b of buttons) {
      b.addEventListener('click', () => {
        set(b.dataset['v'] as string)
        for (const x of buttons) x.setAttribute('aria-pressed', String(x === b))
        void refresh(true)
      })
    }
    return h('div', { class: 'filters', role: 'group', 'aria-label': label }, ...buttons)
  }
  const list = h('ul', { class: 'list', 'aria-label': 'Conversations' })
  const empty = h('p', { class: 'empty', text: 'No conversations here.' })
  const more = h('button', { type: 'button', class: 'more', hidden: true, text: 'Load more conversations' })
  const el = h('nav', { class: 'side', 'aria-label': 'Conversation lists' },
    group('Assignee', ASSIGNEES, () => assignee, (v) => (assignee = v)),
    group('Status', STATUSES, () => status, (v) => (status = v as ConversationStatus)),
    list, empty, more)

  function row(c: Conversation): HTMLElement {
    const waiting = c.waitingSince === null ? '' : `waiting ${since(c.waitingSince)}`
    const b = h('button', { type: 'button', class: 'row', 'aria-current': c.id === selected ? 'true' : null, 'data-id': c.id },
      h('span', { class: 'did', text: `#${c.displayId}` }),
      o.isNew(c.id) ? h('span', { class: 'new', text: 'new' }) : null,
      c.unreadCount > 0 ? h('span', { class: 'unread', 'aria-label': `${c.unreadCount} unread`, text: String(c.unreadCount) }) : null,
      h('span', { class: 'who', text: c.assigneeId === null ? 'Unassigned' : o.agentName(c.assigneeId) }),
      h('span', { class: 'wait', 'data-since': c.waitingSince ?? '', text: waiting }))
    b.addEventListener('click', () => o.onPick(c))
    return h('li', {}, b)
  }

  function draw(): void {
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.['id']
    list.replaceChildren(...rows.map(row))
    if (focused !== undefined) list.querySelector<HTMLElement>(`[data-id="${CSS.escape(focused)}"]`)?.focus()
    empty.hidden = rows.length > 0
    more.hidden = cursor === null
  }

  async function refresh(reset = false): Promise<void> {
    const my = ++gen
    try {
      const r = await o.client.list({ status, assignee, limit: 25 })
      if (my !== gen) return
      if (reset || rows.length <= 25) {
        rows = r.conversations
        cursor = r.cursor
      } else {
        // keep the pages loaded beyond the first: replace the first page's rows in place
        const ids = new Set(r.conversations.map((c) => c.id))
        rows = [...r.conversations, ...rows.slice(25).filter((c) => !ids.has(c.id))]
      }
      draw()
    } catch {
      // offline: the SDK re-runs the list when it is back, and the next event refreshes it
    }
  }

  more.addEventListener('click', async () => {
    if (cursor === null) return
    const r = await o.client.list({ status, assignee, limit: 25, cursor }).catch(() => null)
    if (r === null) return
    const ids = new Set(rows.map((c) => c.id))
    rows = [...rows, ...r.conversations.filter((c) => !ids.has(c.id))]
    cursor = r.cursor
    draw()
  })

  return {
    el,
    refresh,
    /** coalesce bursts of events into one list call */
    soon: () => {
      clearTimeout(timer)
      timer = setTimeout(() => void refresh(), 250)
    },
    select: (id: string | null) => {
      selected = id
      draw()
    },
    tick: () => {
      for (const w of list.querySelectorAll<HTMLElement>('[data-since]')) {
        const s = Number(w.dataset['since'])
        if (s > 0) text(w, `waiting ${since(s)}`)
      }
    },
  }
}
