import t from 'tap'
import { adminPost, type Json } from '../helpers/admin.js'
import { connect } from '../helpers/client.js'
import { e2eStack, eventually } from './fixture.js'

t.test('inbox auto-resolve and round robin on reopen', async (t) => {
  // auto-resolve runs every 10th scheduler tick: every 0.5 s here
  const s = await e2eStack(t, { SCHEDULER_MS: '50' }, { autoAssign: true })
  const accountId = s.tenant.account['id'] as string

  t.test('the admin API takes autoResolveAfterMs (null = off)', async (t) => {
    const made = await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Quick', autoResolveAfterMs: 1000 })
    t.equal(made.status, 200)
    t.equal(made.body['inbox']['autoResolveAfterMs'], 1000)
    t.equal(await s.redis.hget(s.k.autoResolve, made.body['inbox']['id'] as string), '1000')
    const off = await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Off', autoResolveAfterMs: null })
    t.equal(off.body['inbox']['autoResolveAfterMs'], null)
    t.equal((s.tenant.inbox as Json)['autoResolveAfterMs'], null, 'off by default')
    for (const bad of [0, -5, 1.5, 'soon', 400 * 86_400_000]) {
      t.match(await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Bad', autoResolveAfterMs: bad }),
        { status: 400, body: { error: { code: 'bad_request' } } }, `refuses ${JSON.stringify(bad)}`)
    }
  })

  t.test('an idle open conversation is resolved by the scheduler', async (t) => {
    const made = await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/inboxes`, { name: 'Quick', autoResolveAfterMs: 1000, autoAssign: false })
    const inbox = made.body['inbox'] as Json
    const agentMade = await adminPost(s.engine.http, `/api/v1/accounts/${accountId}/agents`, { name: 'Quick Agent', inboxIds: [inbox['id']] })
    const agent = await s.agent(agentMade.body['token'] as string)
    const visitor = s.track(await connect(`${s.engine.ws}/ws/widget?website_token=${encodeURIComponent(inbox['websiteToken'] as string)}`))
    const id = (await visitor.request('conversation.open'))['data']['conversation']['id'] as string
    await visitor.request('message.send', { conversationId: id, content: 'hello?', echoId: 'x' })
    const started = Date.now()
    const text = 'Conversation was marked resolved by system due to 1 second of inactivity'
    const ev = await visitor.waitFor((f) => f['type'] === 'message.created' && f['data']['message']['content'] === text, 5000)
    t.ok(Date.now() - started >= 900, 'not before the window')
    t.match(ev['data']['message'], { type: 'activity', conversationId: id })
    await agent.waitFor((f) => f['type'] === 'conversation.updated' && f['data']['conversation']['id'] === id && f['data']['conversation']['status'] === 'resolved')
    t.equal(await s.redis.hget(s.k.conversation(id), 'status'), 'resolved')
  })

  t.test('reopening an unassigned conversation of an auto-assigning inbox goes round robin', async (t) => {
    const agent = await s.agent()
    const agentId = s.tenant.agents[0]?.agent['id'] as string
    const { conversation } = await s.visitorWithConversation()
    const id = conversation['id'] as string
    await agent.request('conversation.status', { conversationId: id, status: 'resolved' })
    await s.redis.hset(s.k.conversation(id), 'assigneeId', '') // nobody assigned when it comes back
    const reopened = await agent.request('conversation.status', { conversationId: id, status: 'open' })
    t.match(reopened, { ok: true, data: { conversation: { id, status: 'open' } } })
    const assignee = await eventually(async () => (await s.redis.hget(s.k.conversation(id), 'assigneeId')) || undefined)
    t.equal(assignee, agentId, 'assigned to the online agent')
  })
})
