import t from 'tap'
import { adminPost, createTenant, type Json } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { urls, e2eStack } from './fixture.js'

t.test('conversation.status, conversation.update, conversation.rate, contact.update over the wire', async (t) => {
  const s = await e2eStack(t)
  const accountId = s.tenant.account['id'] as string
  // an agent of another inbox of the same account
  const inbox2 = (await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Second' })).body['inbox'] as Json
  const outsider = (await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/agents`, { name: 'Outsider', inboxIds: [inbox2['id']] })).body
  // another account with a conversation of its own
  const foreign = await createTenant(s.engine.http)
  const foreignVisitor = s.track(await connect(urls(s.engine, foreign).widget()))
  const foreignConversation = (await foreignVisitor.request('conversation.open'))['data']['conversation'] as Json

  const agent = await s.agent()
  const other = await s.agent(outsider['token'] as string)

  t.test('status changes: replies, activity messages, events to both sides, lists', async (t) => {
    const { client: visitor, conversation } = await s.visitorWithConversation()
    const id = conversation['id'] as string
    await visitor.request('message.send', { conversationId: id, content: 'hi', echoId: 'e1' })

    const resolved = await agent.request('conversation.status', { conversationId: id, status: 'resolved' })
    t.match(resolved, { ok: true, data: { conversation: { id, status: 'resolved', waitingSince: null } } })
    const activity = (f: Json, text: string) => f['type'] === 'message.created' && f['data']['message']['content'] === text
    await visitor.waitFor((f) => activity(f, 'Conversation was resolved by Agent 1'))
    await agent.waitFor((f) => activity(f, 'Conversation was resolved by Agent 1'))
    const update = await visitor.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['conversation']['status'] === 'resolved')
    t.match(update['data'], { changed: ['status', 'waitingSince'] })
    t.notOk('customAttributes' in update['data']['conversation'], 'the contact gets its own view')
    await agent.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['conversation']['status'] === 'resolved')

    const list = await agent.request('conversation.list', { status: 'resolved' })
    t.ok((list['data']['conversations'] as Json[]).some((c) => c['id'] === id), 'listed as resolved')
    t.notOk(((await agent.request('conversation.list', { status: 'open' }))['data']['conversations'] as Json[]).some((c) => c['id'] === id), 'not as open')

    const until = Date.now() + 3_600_000
    t.match(await agent.request('conversation.status', { conversationId: id, status: 'snoozed', snoozedUntil: until }),
      { ok: true, data: { conversation: { status: 'snoozed', snoozedUntil: until } } })
    await visitor.waitFor((f) => activity(f, `Conversation was snoozed until ${new Date(until).toISOString()}`))
    t.equal(await s.redis.zscore(s.k.snoozed, id), String(until), 'scheduled')
    t.match(await agent.request('conversation.status', { conversationId: id, status: 'pending' }), { ok: true, data: { conversation: { status: 'pending', snoozedUntil: null } } })
    await visitor.waitFor((f) => activity(f, 'Conversation was marked as pending'))
    t.match(await agent.request('conversation.status', { conversationId: id, status: 'open' }), { ok: true, data: { conversation: { status: 'open' } } })
    await visitor.waitFor((f) => activity(f, 'Conversation was reopened'))

    const before = agent.events('conversation.updated').length
    t.match(await agent.request('conversation.status', { conversationId: id, status: 'open' }), { ok: true, data: { conversation: { id, status: 'open' } } },
      'the same status answers the conversation')
    await agent.request('ping')
    t.equal(agent.events('conversation.updated').length, before, 'and sends no event')

    const history = await visitor.request('history', { conversationId: id })
    t.same((history['data']['messages'] as Json[]).filter((m) => m['type'] === 'activity').map((m) => m['content']), [
      'Conversation was resolved by Agent 1', `Conversation was snoozed until ${new Date(until).toISOString()}`,
      'Conversation was marked as pending', 'Conversation was reopened',
    ], 'the activity messages are in the conversation log')
  })

  t.test('status errors', async (t) => {
    const { client: visitor, conversation } = await s.visitorWithConversation()
    const id = conversation['id'] as string
    const code = async (c: typeof agent, params: Json) => ((await c.request('conversation.status', params))['error'] ?? {})['code']
    t.equal(await code(agent, { conversationId: id }), 'bad_request', 'no status')
    t.equal(await code(agent, { conversationId: id, status: 'closed' }), 'bad_request', 'an unknown status')
    t.equal(await code(agent, { conversationId: id, status: 'snoozed' }), 'bad_request', 'snoozed without snoozedUntil')
    t.equal(await code(agent, { conversationId: id, status: 'snoozed', snoozedUntil: Date.now() - 1000 }), 'bad_request', 'snoozedUntil in the past')
    t.equal(await code(agent, { conversationId: id, status: 'snoozed', snoozedUntil: 'tomorrow' }), 'bad_request', 'snoozedUntil not a time')
    t.equal(await code(agent, { conversationId: id, status: 'open', snoozedUntil: Date.now() + 1000 }), 'bad_request', 'snoozedUntil for open')
    t.equal(await code(agent, { conversationId: 42, status: 'open' }), 'bad_request', 'conversationId not a string')
    t.equal(await code(agent, { conversationId: foreignConversation['id'], status: 'resolved' }), 'not_found', "another account's conversation")
    t.equal(await code(agent, { conversationId: 'cv_nope', status: 'resolved' }), 'not_found', 'not an id')
    t.equal(await code(other, { conversationId: id, status: 'resolved' }), 'forbidden', 'an inbox the agent is not in')
    t.equal(await code(visitor, { conversationId: id, status: 'resolved' }), 'forbidden', 'a contact')
    t.equal((await s.redis.hget(s.k.conversation(id), 'status')), 'open', 'nothing changed')
  })

  t.test('conversation.update', async (t) => {
    const { client: visitor, conversation } = await s.visitorWithConversation()
    const id = conversation['id'] as string
    const r = await agent.request('conversation.update', { conversationId: id, priority: 'urgent', customAttributes: { plan: 'pro' }, branch: 'Berlin', region: 'EU' })
    t.match(r, { ok: true, data: { conversation: { id, priority: 'urgent', customAttributes: { plan: 'pro' }, branch: 'Berlin', region: 'EU' } } })
    const ev = await agent.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['conversation']['id'] === id && f['data']['conversation']['priority'] === 'urgent')
    t.same(ev['data']['changed'], ['priority', 'customAttributes', 'branch', 'region'])
    t.match(await agent.request('conversation.update', { conversationId: id, priority: null, region: null }),
      { ok: true, data: { conversation: { priority: null, region: null, branch: 'Berlin' } } })
    await visitor.request('ping')
    t.equal(visitor.events('conversation.updated').length, 0, 'agent-only fields never reach the contact')
    const code = async (c: typeof agent, params: Json) => ((await c.request('conversation.update', params))['error'] ?? {})['code']
    t.equal(await code(agent, { conversationId: id, priority: 'asap' }), 'bad_request')
    t.equal(await code(agent, { conversationId: id, customAttributes: [1] }), 'bad_request')
    t.equal(await code(agent, { conversationId: id, customAttributes: { x: 'y'.repeat(17_000) } }), 'too_large')
    t.equal(await code(agent, { conversationId: id, branch: 7 }), 'bad_request')
    t.equal(await code(agent, { conversationId: foreignConversation['id'], priority: 'low' }), 'not_found')
    t.equal(await code(other, { conversationId: id, priority: 'low' }), 'forbidden')
    t.equal(await code(visitor, { conversationId: id, priority: 'low' }), 'forbidden')
  })

  t.test('conversation.rate', async (t) => {
    const { client: visitor, conversation } = await s.visitorWithConversation()
    const id = conversation['id'] as string
    const code = async (c: typeof agent, params: Json) => ((await c.request('conversation.rate', params))['error'] ?? {})['code']
    t.equal(await code(visitor, { conversationId: id, score: 5 }), 'invalid_state', 'an open conversation')
    await agent.request('conversation.status', { conversationId: id, status: 'resolved' })
    t.equal(await code(visitor, { conversationId: id, score: 6 }), 'bad_request')
    t.equal(await code(visitor, { conversationId: id, score: 2.5 }), 'bad_request')
    t.equal(await code(visitor, { conversationId: id }), 'bad_request')
    t.equal(await code(visitor, { conversationId: id, score: 3, comment: 'x'.repeat(2001) }), 'bad_request')
    t.equal(await code(visitor, { conversationId: foreignConversation['id'], score: 3 }), 'not_found', "another account's conversation")
    const stranger = await s.visitor()
    t.equal(await code(stranger, { conversationId: id, score: 1 }), 'forbidden', "another contact's conversation")
    t.equal(await code(agent, { conversationId: id, score: 1 }), 'forbidden', 'an agent')

    const r = await visitor.request('conversation.rate', { conversationId: id, score: 4, comment: 'thanks!' })
    t.match(r, { ok: true, data: { conversation: { id, status: 'resolved', rating: { score: 4, comment: 'thanks!' } } } })
    t.notOk('customAttributes' in r['data']['conversation'], 'the contact gets its own view')
    await agent.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['conversation']['id'] === id && f['data']['changed'][0] === 'rating')
    t.equal(await code(visitor, { conversationId: id, score: 5 }), 'invalid_state', 'rated twice')
    const rated = (await s.events('conversation.rated')).filter((e) => e.data['conversationId'] === id)
    t.equal(rated.length, 1, 'one conversation.rated event for the CSAT table')
    t.match(rated[0]?.data, { score: 4, comment: 'thanks!', inboxId: s.tenant.inbox['id'] })
  })

  t.test('contact.update', async (t) => {
    const visitor = await s.visitor()
    const contactId = visitor.hello['contact']['id'] as string
    const r = await visitor.request('contact.update', { name: ' Grace Hopper ', email: 'Grace@Example.com', phone: '+1 555 0100', customAttributes: { plan: 'free' } })
    t.match(r, { ok: true, data: { contact: { id: contactId, name: 'Grace Hopper', email: 'grace@example.com', phone: '+1 555 0100', customAttributes: { plan: 'free' } } } })
    const r2 = await visitor.request('contact.update', { customAttributes: { seats: 2, plan: null }, phone: null })
    t.match(r2, { ok: true, data: { contact: { name: 'Grace Hopper', phone: null } } })
    t.same(r2['data']['contact']['customAttributes'], { seats: 2 }, 'custom attributes merge; null removes a key')
    const events = (await s.events('contact.updated')).filter((e) => e.data['id'] === contactId)
    t.equal(events.length, 2, 'each change is on the partition stream')
    t.same(events[1]?.data['changed'], ['phone', 'customAttributes'])
    t.equal(await s.redis.hget(s.k.contact(contactId), 'email'), 'grace@example.com', 'stored')

    const code = async (c: typeof agent, params: Json) => ((await c.request('contact.update', params))['error'] ?? {})['code']
    t.equal(await code(visitor, { email: 'not-an-email' }), 'bad_request')
    t.equal(await code(visitor, { name: 'x'.repeat(256) }), 'bad_request')
    t.equal(await code(visitor, { phone: 'call me' }), 'bad_request')
    t.equal(await code(visitor, { name: 5 }), 'bad_request')
    t.equal(await code(visitor, { customAttributes: 'x' }), 'bad_request')
    t.equal(await code(agent, { name: 'x' }), 'forbidden', 'an agent')
    t.equal((await s.events('contact.updated')).filter((e) => e.data['id'] === contactId).length, 2, 'refused changes write nothing')
  })
})
