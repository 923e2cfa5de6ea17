import t from 'tap'
import { createTenant } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { e2eStack, urls } from './fixture.js'

t.test('seen: read receipts reach the other side; the archived event is throttled', async (t) => {
  const s = await e2eStack(t, { SEEN_THROTTLE_MS: '60000' })
  const agent = await s.agent()
  const { client: visitor, conversation } = await s.visitorWithConversation()
  const id = conversation['id'] as string
  const agentId = s.tenant.agents[0]?.agent['id'] as string

  const asked = await visitor.request('message.send', { conversationId: id, content: 'anyone there?', echoId: 'q1' })
  const question = asked['data']['message']['id'] as string
  await agent.request('message.send', { conversationId: id, content: 'internal: check CRM', echoId: 'n1', private: true })
  const answered = await agent.request('message.send', { conversationId: id, content: 'yes, hello!', echoId: 'a1' })
  const answer = answered['data']['message']['id'] as string

  t.test('the agent sees: the contact gets a read receipt for its message', async (t) => {
    const r = await agent.request('seen', { conversationId: id })
    t.match(r, { ok: true, data: { conversation: { id, agentLastSeenAt: Number } } })
    const receipt = await visitor.waitFor((f) => f['type'] === 'message.updated')
    t.match(receipt['data']['message'], { id: question, status: 'read', type: 'incoming' })
    const upd = await visitor.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['changed'].includes('agentLastSeenAt'))
    t.type(upd['data']['conversation']['agentLastSeenAt'], 'number')
    const history = await visitor.request('history', { conversationId: id })
    t.match((history['data']['messages'] as Record<string, unknown>[]).find((m) => m['id'] === question), { status: 'read' }, 'history agrees')
  })

  t.test('the contact sees: the agent gets a receipt for the answer, never for the private note', async (t) => {
    const r = await visitor.request('seen', { conversationId: id })
    t.match(r, { ok: true, data: { conversation: { id, contactLastSeenAt: Number } } })
    t.notOk('unreadCount' in r['data']['conversation'], 'the contact gets its own view')
    const receipt = await agent.waitFor((f) => f['type'] === 'message.updated' && f['data']['message']['id'] === answer)
    t.match(receipt['data']['message'], { status: 'read', type: 'outgoing' })
    await visitor.request('seen', { conversationId: id })
    await agent.request('ping')
    const receipts = agent.events('message.updated').map((f) => f['data']['message']['id'])
    t.same(receipts, [question, answer], 'one receipt per message, none for the note')
    t.notOk(visitor.frames.some((f) => f['type'] === 'message.updated' && f['data']['message']['private'] === true), 'the contact never sees the note')
  })

  t.test('the archived conversation.seen event appears once per viewer within the window', async (t) => {
    await agent.request('seen', { conversationId: id })
    await agent.request('seen', { conversationId: id })
    const seen = (await s.events('conversation.seen')).filter((e) => (e.data['conversation'] as Record<string, unknown>)['id'] === id)
    t.equal(seen.filter((e) => (e.data['viewer'] as Record<string, unknown>)['type'] === 'agent').length, 1, 'one for the agent')
    t.equal(seen.filter((e) => (e.data['viewer'] as Record<string, unknown>)['type'] === 'contact').length, 1, 'one for the contact')
    t.match(seen[0]?.data, { viewer: { type: 'agent', id: agentId } })
  })

  t.test('errors', async (t) => {
    const foreign = await createTenant(s.engine.http)
    const fv = s.track(await connect(urls(s.engine, foreign).widget()))
    const foreignId = (await fv.request('conversation.open'))['data']['conversation']['id'] as string
    const stranger = await s.visitor()
    t.match(await agent.request('seen', {}), { ok: false, error: { code: 'bad_request' } })
    t.match(await agent.request('seen', { conversationId: foreignId }), { ok: false, error: { code: 'not_found' } }, "another account's conversation")
    t.match(await stranger.request('seen', { conversationId: id }), { ok: false, error: { code: 'forbidden' } }, "another contact's conversation")
  })
})
