import t from 'tap'
import { createTenant, type Json } from '../helpers/admin.js'
import { e2eStack } from './fixture.js'

t.test('API-channel ingest', async (t) => {
  const s = await e2eStack(t)
  const inboxId = s.tenant.inbox['id'] as string
  const apiToken = s.tenant.inbox['apiToken'] as string
  const post = async (body: unknown, opts: { token?: string; inbox?: string } = {}) => {
    const res = await fetch(`${s.engine.http}/api/v1/inboxes/${opts.inbox ?? inboxId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token ?? apiToken}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Json }
  }
  const agent = await s.agent()

  t.test('a message creates the contact and a conversation; a repeated sourceId returns the first', async (t) => {
    const first = await post({ sourceId: 'wa-1', contact: { identifier: 'cust-42', name: 'Alan' }, content: 'hello from the API' })
    t.equal(first.status, 200)
    t.match(first.body, {
      message: { type: 'incoming', content: 'hello from the API', sourceId: 'wa-1', sender: { type: 'contact' }, inboxId },
      conversation: { inboxId, status: 'open' },
    })
    const conversationId = first.body['conversation']['id'] as string
    const contactId = first.body['message']['sender']['id'] as string
    t.equal(first.body['conversation']['contactId'], contactId)
    t.match(await s.redis.hgetall(s.k.contact(contactId)), { identifier: 'cust-42', name: 'Alan' }, 'the contact is named')
    await agent.waitFor((f) => f['type'] === 'conversation.created' && f['data']['conversation']['id'] === conversationId)
    await agent.waitFor((f) => f['type'] === 'message.created' && f['data']['message']['sourceId'] === 'wa-1')

    const again = await post({ sourceId: 'wa-1', contact: { identifier: 'cust-42' }, content: 'hello from the API' })
    t.equal(again.status, 200)
    t.equal(again.body['message']['id'], first.body['message']['id'], 'the first message')
    t.same(again.body['message'], first.body['message'], 'as it was answered the first time, field for field')
    t.equal(again.body['conversation']['id'], conversationId)

    const next = await post({ sourceId: 'wa-2', contact: { identifier: 'cust-42' }, content: 'second' })
    t.equal(next.body['conversation']['id'], conversationId, 'the open conversation is reused')
    t.not(next.body['message']['id'], first.body['message']['id'])

    // resolved meanwhile: a repeat must still not open a second conversation
    await agent.request('conversation.status', { conversationId, status: 'resolved' })
    const created = (await s.events('conversation.created')).length
    const repeat = await post({ sourceId: 'wa-2', contact: { identifier: 'cust-42' }, content: 'second' })
    t.equal(repeat.body['message']['id'], next.body['message']['id'])
    t.equal(repeat.body['conversation']['id'], conversationId)
    t.equal((await s.events('conversation.created')).length, created, 'no conversation created by a repeat')
    t.equal((await s.redis.xlen(s.k.conversationLog(conversationId))), 3, 'two messages and the resolve activity, nothing else')

    const fresh = await post({ sourceId: 'wa-3', contact: { identifier: 'cust-42' }, content: 'back again' })
    t.not(fresh.body['conversation']['id'], conversationId, 'a new message after resolve opens a new conversation')
  })

  t.test('the same sourceId twice at once: one message, both answered with it', async (t) => {
    const body = { sourceId: 'race-1', contact: { identifier: 'racer' }, content: 'only once' }
    const [a, b] = await Promise.all([post(body), post(body)])
    t.equal(a.status, 200)
    t.equal(b.status, 200)
    t.equal(a.body['message']['id'], b.body['message']['id'], 'the same message')
    const log = (await s.redis.xrange(s.k.conversationLog(a.body['conversation']['id'] as string), '-', '+')) as [string, string[]][]
    t.equal(log.filter(([, f]) => (f[1] ?? '').includes('only once')).length, 1, 'written once')
  })

  t.test('auth and validation', async (t) => {
    const body = { sourceId: 'x-1', contact: { identifier: 'c' }, content: 'hi' }
    t.match(await post(body, { token: 'nope' }), { status: 401, body: { error: { code: 'unauthorized' } } })
    t.match(await post(body, { token: s.tenant.agents[0]?.token ?? '' }), { status: 401 }, 'an agent token is not an inbox token')
    const other = await createTenant(s.engine.http)
    t.match(await post(body, { token: other.inbox['apiToken'] as string }), { status: 403, body: { error: { code: 'forbidden' } } }, "another inbox's token")
    t.match(await post({ ...body, sourceId: '' }), { status: 400 })
    t.match(await post({ ...body, sourceId: 'x'.repeat(256) }), { status: 400 })
    t.match(await post({ sourceId: 'x-2', content: 'hi' }), { status: 400 }, 'no contact')
    t.match(await post({ sourceId: 'x-2', contact: {}, content: 'hi' }), { status: 400 }, 'no identifier')
    t.match(await post({ ...body, content: '  ' }), { status: 400 })
    t.match(await post('{bad json'), { status: 400 })
  })

  t.test('the inbox flood limit applies', async (t) => {
    const tenant = await createTenant(s.engine.http, { inbox: { messagesPerMinute: 2 } })
    const url = `${s.engine.http}/api/v1/inboxes/${tenant.inbox['id'] as string}/messages`
    const send = (n: number) => fetch(url, {
      method: 'POST', headers: { authorization: `Bearer ${tenant.inbox['apiToken'] as string}` },
      body: JSON.stringify({ sourceId: `f-${n}`, contact: { identifier: 'flooder' }, content: `m${n}` }),
    })
    t.equal((await send(1)).status, 200)
    t.equal((await send(2)).status, 200)
    const limited = await send(3)
    t.equal(limited.status, 429)
    t.match(await limited.json(), { error: { code: 'flood_limited', retryAfterMs: Number } })
  })
})
