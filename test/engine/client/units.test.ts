// The SDK's pure parts: full-jitter backoff bounds, message id order, the held view's ordering and
// dedupe and the stream cursor, endpoint URLs, the emitter's isolation of app handlers, and the
// refusal probe against a real HTTP receiver.
import { createServer } from 'node:http'
import t from 'tap'
import type { AgentClient, WidgetClient } from 'parley/client'
import { createBackoff } from '../../../engine/client/backoff.js'
import { reachable } from '../../../engine/client/browser.js'
import { createEmitter } from '../../../engine/client/emitter.js'
import type { ParleyError } from '../../../engine/client/errors.js'
import { compareIds, newEchoId } from '../../../engine/client/ids.js'
import { endpoint } from '../../../engine/client/socket.js'
import { createHeld } from '../../../engine/client/store.js'
import type { Message } from '../../../engine/wire.js'

t.test('backoff: random(0, min(max, base·2^n)), reset after success', async (t) => {
  const top = createBackoff({ baseMs: 100, maxMs: 1000 }, () => 0.9999)
  t.same(Array.from({ length: 6 }, () => top.next()), [99, 199, 399, 799, 999, 999], 'the cap doubles, bounded by maxMs')
  top.reset()
  t.equal(top.next(), 99, 'reset starts over')
  const bottom = createBackoff({}, () => 0)
  t.equal(bottom.next(), 0, 'full jitter reaches 0')
  const real = createBackoff({ baseMs: 10, maxMs: 50 })
  for (let i = 0; i < 200; i++) {
    const d = real.next()
    if (d < 0 || d >= 50) t.fail(`out of bounds: ${d}`)
  }
  t.throws(() => createBackoff({ baseMs: 100, maxMs: 10 }), /backoff/)
})

t.test('message ids compare as numbers', async (t) => {
  t.ok(compareIds('999-0', '1000-0') < 0)
  t.ok(compareIds('1000-10', '1000-9') > 0)
  t.equal(compareIds('1732212345678-3', '1732212345678-3'), 0)
  t.match(newEchoId(), /^e_[0-9a-f]{32}$/)
  t.not(newEchoId(), newEchoId())
})

t.test('the held view: ordered, deduplicated, a cursor that only moves forward', async (t) => {
  const h = createHeld()
  const m = (id: string, content = id): Message => ({ id, conversationId: 'cv_1', content } as Message)
  t.equal(h.putMessage(m('5-0')), 'new')
  t.equal(h.putMessage(m('3-0')), 'new')
  t.equal(h.putMessage(m('4-0')), 'new')
  t.equal(h.putMessage(m('4-0')), 'same', 'a repeat is no change')
  t.equal(h.putMessage(m('4-0', 'edited')), 'updated')
  t.same(h.messages('cv_1').map((x) => x.id), ['3-0', '4-0', '5-0'], 'in id order')
  t.ok(h.hasMessage('cv_1', '3-0'))
  t.equal(h.cursor('cv_1'), null)
  t.ok(h.advance(m('4-0')))
  t.notOk(h.advance(m('3-0')), 'never backwards')
  t.notOk(h.advance(m('4-0')))
  t.ok(h.advance(m('5-0')))
  t.equal(h.cursor('cv_1'), '5-0')
  t.same(h.putConversation({ id: 'cv_1', status: 'open', unreadCount: 1 } as never).sort(), ['id', 'status', 'unreadCount'])
  t.same(h.putConversation({ id: 'cv_1', status: 'resolved', unreadCount: 1 } as never), ['status'], 'only what changed')
  t.same(h.putConversation({ id: 'cv_1', status: 'resolved' } as never), [], 'a narrower view is not a change')
})

t.test('endpoints from the base URL', async (t) => {
  t.equal(endpoint('https://chat.example.com', '/ws/agent', { token: 'a b' }), 'wss://chat.example.com/ws/agent?token=a%20b')
  t.equal(endpoint('http://127.0.0.1:8080/', '/ws/widget', { website_token: 't', session: undefined }), 'ws://127.0.0.1:8080/ws/widget?website_token=t')
  t.equal(endpoint('wss://x.test/chat', '/ws/widget', {}), 'wss://x.test/chat/ws/widget')
  t.equal(endpoint('ws://x.test', '/ws/agent', { token: 't' }), 'ws://x.test/ws/agent?token=t')
})

t.test('the emitter: a throwing handler is reported, the others still run', async (t) => {
  const e = createEmitter<{ x: number; error: ParleyError }>()
  const got: number[] = []
  const errors: ParleyError[] = []
  e.on('x', () => {
    throw new Error('boom')
  })
  const off = e.on('x', (n) => got.push(n))
  e.on('error', (err) => errors.push(err))
  e.emit('x', 1)
  off()
  e.emit('x', 2)
  t.same(got, [1], 'the second handler ran, then unsubscribed')
  t.equal(errors.length, 2)
  t.match(errors[0], { code: 'handler', message: /boom/ })
})

t.test('the refusal probe: only a ready engine counts (503 while draining and a closed port do not)', async (t) => {
  let status = 200
  const asked: string[] = []
  const server = createServer((req, res) => {
    asked.push(req.url ?? '')
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ready: status === 200 }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  t.equal(await reachable(base)(), true, '200: the engine is up, so a closed upgrade was a refusal')
  status = 503
  t.equal(await reachable(base)(), false, '503: not ready (draining, Redis away) is an outage, not a refusal')
  t.same(asked, ['/readyz', '/readyz'])
  await new Promise((r) => server.close(r))
  t.equal(await reachable(base)(), false, 'nothing listening: an outage')
})

// Compile-time: request() is typed per op and per role from engine/wire.ts. Each @ts-expect-error
// below must stay an error, or `npm run build` fails.
export function typedRequests(agent: AgentClient, widget: WidgetClient) {
  // @ts-expect-error assigneeId is required
  void agent.request('conversation.assign', { conversationId: 'cv_1' })
  // @ts-expect-error agents.list is not a contact op
  void widget.request('agents.list')
  // @ts-expect-error no such status
  void agent.setStatus('cv_1', 'closed')
  // @ts-expect-error conversation.open is for contacts
  void agent.request('conversation.open', {})
  void agent.request('conversation.list', { status: 'resolved', assignee: 'me' }).then((r) => r.conversations[0]?.displayId)
  void widget.request('ping').then((r) => r.serverTime.toFixed())
  agent.on('conversation.updated', ({ changed }) => changed.join())
  widget.on('state', ({ state }) => state === 'reconnecting')
}
