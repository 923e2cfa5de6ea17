/// <reference lib="dom" />
// GET /console: the agent console. Sign in with an agent token (kept in sessionStorage for reloads;
// `#token=…` in the URL signs in at once, as the demo page does), then lists, the conversation
// view, presence and a title badge counting new conversations not opened yet. A refused token
// brings back the sign-in form with a clear message; a dropped connection shows "Reconnecting…".
import { createAgentClient, type AgentClient } from '../../client/browser.js'
import type { Agent, Conversation } from '../../client/types.js'
import { h, text } from '../dom.js'
import { createLists } from './lists.js'
import { createThread } from './thread.js'

const KEY = 'parley:console:token'
const TITLE = 'Parley console'
const root = document.getElementById('app') as HTMLElement

function signInForm(message: string): void {
  document.title = TITLE
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' })
  const alert = h('p', { class: 'alert', role: 'alert', text: message })
  const button = h('button', { type: 'submit', class: 'primary', text: 'Sign in' })
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', text: TITLE }),
    h('label', { for: 'token', text: 'Agent token' }), input, button, alert)
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const token = input.value.trim()
    if (token === '') return text(alert, 'Enter the agent token you were given.')
    button.disabled = true
    text(alert, 'Signing in…')
    start(token)
  })
  root.replaceChildren(form)
  input.focus()
}

function start(token: string): void {
  if (root.firstChild === null) root.replaceChildren(h('p', { class: 'signin', role: 'status', text: 'Signing in…' }))
  const client = createAgentClient({ url: location.origin, token })
  client.on('error', (err) => {
    if (client.state !== 'closed') return
    sessionStorage.removeItem(KEY)
    client.close()
    signInForm(err.code === 'unauthorized' || err.code === 'forbidden'
      ? 'Sign-in failed: this agent token was not accepted (mistyped, rotated or the agent was removed).'
      : `Sign-in failed: ${err.message}`)
  })
  const off = client.on('synced', () => {
    off()
    sessionStorage.setItem(KEY, token)
    void workspace(client)
  })
}

async function workspace(client: AgentClient): Promise<void> {
  let agents: Agent[] = []
  const fresh = new Set<string>()
  const agentName = (id: string | null) => (id === null ? 'nobody' : agents.find((a) => a.id === id)?.name ?? id.slice(0, 10))
  const badge = () => {
    document.title = fresh.size > 0 ? `(${fresh.size}) ${TITLE}` : TITLE
  }
  const thread = createThread({ client, me: () => client.me(), agents: () => agents, agentName })
  const lists = createLists({
    client, agentName, isNew: (id) => fresh.has(id),
    onPick: (c: Conversation) => {
      fresh.delete(c.id)
      badge()
      lists.select(c.id)
      void thread.show(c)
    },
  })

  const me = client.me() as Agent
  const who = h('span', { class: 'who', text: `${me.name}${me.role === 'administrator' ? ' (administrator)' : ''}` })
  const conn = h('span', { class: 'conn', role: 'status' })
  const availability = h('select', { id: 'availability' },
    ...(['online', 'busy', 'offline'] as const).map((v) => h('option', { value: v, text: v[0]?.toUpperCase() + v.slice(1) })))
  availability.value = me.availability
  const signOut = h('button', { type: 'button', text: 'Sign out' })
  const header = h('header', { class: 'top' }, h('h1', { text: TITLE }), who,
    h('label', { for: 'availability', text: 'Availability' }), availability, conn, signOut)
  root.replaceChildren(header, h('div', { class: 'panes' }, lists.el, thread.el))

  availability.addEventListener('change', () => {
    client.setPresence(availability.value as Agent['availability']).catch((err: Error) => {
      text(conn, `Could not change availability: ${err.message}`)
      availability.value = client.me()?.availability ?? 'online'
    })
  })
  signOut.addEventListener('click', () => {
    sessionStorage.removeItem(KEY)
    client.close()
    signInForm('Signed out.')
  })
  client.on('state', ({ state }) => text(conn, state === 'open' ? '' : state === 'closed' ? 'Disconnected' : 'Reconnecting…'))
  client.on('synced', ({ reconnect }) => {
    text(conn, '')
    if (reconnect) {
      void lists.refresh()
      thread.redraw()
    }
  })
  client.on('conversation.created', ({ conversation: c }) => {
    if (c.id !== thread.id) fresh.add(c.id)
    badge()
    lists.soon()
  })
  client.on('conversation.updated', ({ conversation: c }) => {
    thread.onConversation(c as Conversation)
    lists.soon()
  })
  client.on('message.created', ({ message: m }) => {
    thread.onMessage(m)
    lists.soon()
  })
  client.on('message.updated', ({ message: m }) => thread.onMessage(m))
  client.on('typing', (d) => thread.onTyping(d))
  client.on('presence.updated', ({ agent }) => {
    if (agent !== undefined && agent.id === client.me()?.id) availability.value = agent.availability
  })
  document.addEventListener('visibilitychange', () => thread.redraw())
  setInterval(() => {
    thread.tick()
    lists.tick()
  }, 1000)
  try {
    agents = await client.agents()
  } catch {
    agents = [me]
  }
  await lists.refresh(true)
}

const fromHash = new URLSearchParams(location.hash.slice(1)).get('token')
if (fromHash !== null) history.replaceState(null, '', location.pathname) // keep the token out of the address bar
const saved = fromHash ?? sessionStorage.getItem(KEY)
if (saved !== null && saved !== '') start(saved)
else signInForm('')
