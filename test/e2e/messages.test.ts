import t from 'tap'
import { adminPost, createTenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

const isMsg = (conversationId: string, content?: string) => (f: Record<string, any>) =>
  f['op'] === 'event' && f['type'] === 'message.created' && f['data']?.message?.conversationId === conversationId &&
  (content === undefined || f['data'].message.content === content)

t.test('conversations and messages across two engine nodes', async (t) => {
  const redis = await startTestRedis(t)
  const nodeA = await startEngine(t, { redisUrl: redis.url })
  const nodeB = await startEngine(t, { redisUrl: redis.url, env: { OPS_PER_SECOND: '1000' } })
  const tenant = await createTenant(nodeA.http, { agents: 2, inbox: { messagesPerMinute: 5 } })
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const agentUrl = (node: typeof nodeA, i: number) => `${node.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[i]?.token ?? '')}`
  const clients: Client[] = []
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const track = (c: Client) => (clients.push(c), c)

  const agentA = track(await connect(agentUrl(nodeA, 0)))
  const agentB = track(await connect(agentUrl(nodeB, 1), { codec: 'msgpack' }))
  const widget = track(await connect(`${nodeB.ws}/ws/widget?website_token=${site}`))

  const opened = await widget.request('conversation.open', { additionalAttributes: { browser: 'Firefox' } })
  t.match(opened, { ok: true, data: { conversation: { id: /^cv_/, displayId: 1, status: 'open', waitingSince: Number, additionalAttributes: { browser: 'Firefox' } } } })
  const conv = opened['data'].conversation as Record<string, any>
  const convId = conv['id'] as string

  t.test('conversation.created reaches the inbox agents on both nodes', async (t) => {
    for (const a of [agentA, agentB]) t.match(await a.waitFor((f) => f['type'] === 'conversation.created'), { data: { conversation: { id: convId } } })
    t.same((await widget.request('conversation.open'))['data'].conversation.id, convId, 'open again returns the same conversation')
    const second = track(await connect(`${nodeA.ws}/ws/widget?website_token=${site}`))
    t.equal((await second.request('conversation.open'))['data'].conversation.displayId, 2, 'display ids count per account')
  })

  t.test('a visitor writes; agents on both nodes see it; an agent answers; the visitor sees it', async (t) => {
    const sent = await widget.request('message.send', { conversationId: convId, content: 'Hi, I need help', echoId: 'w-1' })
    t.match(sent, { ok: true, data: { message: { id: /^\d+-\d+$/, type: 'incoming', echoId: 'w-1', sender: { type: 'contact' } } } })
    for (const a of [agentA, agentB]) t.ok(await a.waitFor(isMsg(convId, 'Hi, I need help')))
    const reply = await agentB.request('message.send', { conversationId: convId, content: 'Hello! How can I help?', echoId: 'a-1' })
    t.match(reply, { ok: true, data: { message: { type: 'outgoing', sender: { type: 'agent', id: tenant.agents[1]?.agent['id'] } } } })
    t.ok(await widget.waitFor(isMsg(convId, 'Hello! How can I help?')))
    t.ok(await agentA.waitFor(isMsg(convId, 'Hello! How can I help?')))
    const again = await widget.request('message.send', { conversationId: convId, content: 'Hi, I need help (retry)', echoId: 'w-1' })
    t.equal(again['data'].message.id, sent['data'].message.id, 'the same echoId returns the first message')
    const got = await agentA.request('conversation.get', { conversationId: convId })
    t.match(got['data'].conversation, { waitingSince: null, firstReplyCreatedAt: Number, status: 'open' })
  })

  t.test('a private note never reaches the contact', async (t) => {
    await agentA.request('message.send', { conversationId: convId, content: 'internal: VIP customer', private: true })
    t.ok(await agentB.waitFor(isMsg(convId, 'internal: VIP customer')), 'other agents get it')
    await agentA.request('message.send', { conversationId: convId, content: 'marker after note' })
    await widget.waitFor(isMsg(convId, 'marker after note'))
    t.notOk(widget.frames.some((f) => JSON.stringify(f).includes('VIP customer')), 'not in the widget stream')
    const hist = await widget.request('history', { conversationId: convId })
    t.notOk(JSON.stringify(hist).includes('VIP customer'), 'not in the widget history')
    const agentHist = await agentA.request('history', { conversationId: convId })
    t.ok(JSON.stringify(agentHist).includes('VIP customer'), 'in the agent history')
    t.match(await widget.request('message.send', { conversationId: convId, content: 'x', private: true }), { ok: false, error: { code: 'forbidden' } })
  })

  t.test('messages arrive once per connection, in stream order', async (t) => {
    const before = agentA.frames.length
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push((await agentB.request('message.send', { conversationId: convId, content: `seq ${i}` }))['data'].message.id)
    await widget.waitFor(isMsg(convId, 'seq 3'))
    await agentA.waitFor(isMsg(convId, 'seq 3'))
    for (const c of [widget, agentA]) {
      const seen = c.frames.filter((f) => isMsg(convId)(f) && /^seq /.test(f['data'].message.content)).map((f) => f['data'].message.id)
      t.same(seen, ids, 'each exactly once, in order')
    }
    t.ok(agentA.frames.length > before)
  })

  t.test('typing reaches the other side, not the typer', async (t) => {
    await widget.request('typing', { conversationId: convId, on: true })
    t.match(await agentA.waitFor((f) => f['type'] === 'typing'), { data: { conversationId: convId, on: true, sender: { type: 'contact' } } })
    t.notOk(widget.frames.some((f) => f['type'] === 'typing'))
  })

  t.test('errors: bad params, foreign ids, flood', async (t) => {
    t.match(await widget.request('message.send', { conversationId: convId }), { ok: false, error: { code: 'bad_request' } })
    t.match(await widget.request('message.send', { conversationId: convId, content: 'x'.repeat(150_001) }), { ok: false, error: { code: 'too_large' } })
    t.match(await widget.request('message.send', { conversationId: 'cv_AAAAAAAAAAAAAAAAAAAAAA', content: 'x' }), { ok: false, error: { code: 'not_found' } })
    t.match(await agentA.request('history', { conversationId: convId, before: 'nope' }), { ok: false, error: { code: 'bad_request' } })
    // another account's conversation is not_found for its agents; another contact's is forbidden
    const other = await createTenant(nodeA.http)
    const stranger = track(await connect(`${nodeA.ws}/ws/agent?token=${encodeURIComponent(other.agents[0]?.token ?? '')}`))
    for (const op of ['conversation.get', 'history']) {
      t.match(await stranger.request(op, { conversationId: convId }), { ok: false, error: { code: 'not_found' } }, op)
    }
    t.match(await stranger.request('message.send', { conversationId: convId, content: 'hi' }), { ok: false, error: { code: 'not_found' } })
    const otherVisitor = track(await connect(`${nodeA.ws}/ws/widget?website_token=${site}`))
    t.match(await otherVisitor.request('message.send', { conversationId: convId, content: 'hi' }), { ok: false, error: { code: 'forbidden' } })
    t.match(await otherVisitor.request('history', { conversationId: convId }), { ok: false, error: { code: 'forbidden' } })
    t.notOk(stranger.frames.some((f) => f['op'] === 'event' && JSON.stringify(f).includes(tenant.account['id'] as string)), 'nothing of account A reached account B')
    // an agent outside the inbox
    const { body } = await adminPost(nodeA.http, `/api/v1/accounts/${tenant.account['id']}/agents`, { name: 'Outsider', inboxIds: [] })
    const outsider = track(await connect(`${nodeA.ws}/ws/agent?token=${encodeURIComponent(body['token'] as string)}`))
    t.match(await outsider.request('conversation.get', { conversationId: convId }), { ok: false, error: { code: 'forbidden' } })
    t.match(await outsider.request('message.send', { conversationId: convId, content: 'x' }), { ok: false, error: { code: 'forbidden' } })
    // flood: the inbox allows 5 per minute; 1 was written above (its echoId repeat was not)
    const results = []
    for (let i = 0; i < 5; i++) results.push(await widget.request('message.send', { conversationId: convId, content: `flood ${i}` }))
    t.equal(results.filter((r) => r['ok']).length, 4)
    t.match(results[4], { ok: false, error: { code: 'flood_limited', retryAfterMs: Number } })
    const hist = await agentA.request('history', { conversationId: convId, limit: 200 })
    t.notOk(JSON.stringify(hist).includes('flood 4'), 'the refused message was not written')
  })

  t.test('resume after a disconnect returns exactly the missed messages in order', async (t) => {
    const w = track(await connect(`${nodeA.ws}/ws/widget?website_token=${site}&session=${encodeURIComponent(widget.hello['session'] as string)}`))
    t.equal(w.hello['conversation']?.id, convId, 'hello carries the open conversation')
    const last = (await agentA.request('message.send', { conversationId: convId, content: 'before drop' }))['data'].message.id as string
    await w.waitFor(isMsg(convId, 'before drop'))
    await w.close()
    const missed: string[] = []
    for (let i = 0; i < 3; i++) missed.push((await agentA.request('message.send', { conversationId: convId, content: `missed ${i}` }))['data'].message.id)
    await agentA.request('message.send', { conversationId: convId, content: 'private while away', private: true })
    const back = track(await connect(`${nodeB.ws}/ws/widget?website_token=${site}&session=${encodeURIComponent(widget.hello['session'] as string)}`))
    const r = await back.request('resume', { conversationId: convId, after: last })
    t.equal(r['data'].complete, true)
    t.same(r['data'].messages.map((m: { id: string }) => m.id), missed)
    const r2 = await back.request('resume', { conversationId: convId, after: missed[2] })
    t.same(r2['data'].messages, [], 'a second resume from the newest id returns nothing')
    t.match(await back.request('resume', { conversationId: convId }), { ok: false, error: { code: 'bad_request' } })
  })

  t.test('conversation.list pages by lastActivityAt', async (t) => {
    const visitors = []
    for (let i = 0; i < 3; i++) {
      const v = track(await connect(`${nodeA.ws}/ws/widget?website_token=${site}`))
      const c = (await v.request('conversation.open'))['data'].conversation.id as string
      await v.request('message.send', { conversationId: c, content: `list ${i}` })
      visitors.push(c)
    }
    const page1 = await agentA.request('conversation.list', { limit: 2 })
    t.equal(page1['data'].conversations.length, 2)
    t.same(page1['data'].conversations.map((c: { id: string }) => c.id), [visitors[2], visitors[1]])
    const page2 = await agentA.request('conversation.list', { limit: 2, cursor: page1['data'].cursor })
    t.equal(page2['data'].conversations[0].id, visitors[0])
    const all = await agentA.request('conversation.list', { assignee: 'all', limit: 100 })
    t.ok(all['data'].conversations.length >= 4)
    const mine = await agentA.request('conversation.list', { assignee: 'me', limit: 100 })
    t.ok(mine['data'].conversations.every((c: { assigneeId: string }) => c.assigneeId === tenant.agents[0]?.agent['id']), 'assignee me filters')
    t.match(await agentA.request('conversation.list', { status: 'closed' }), { ok: false, error: { code: 'bad_request' } })
    t.match(await agentA.request('conversation.list', { cursor: 'garbage' }), { ok: false, error: { code: 'bad_request' } })
  })
})
