// The SDK through a Redis crash: redis-server is SIGKILLed under a widget and an agent client and
// started again on its data folder. Sends made meanwhile are answered `unavailable` (test/e2e/redis-crash); the outbox
// keeps them and re-sends after retryAfterMs (never surfacing the error) until Redis is back, then
// each lands once, and both clients hold exactly the server's history.
import { startCrashableRedis } from '../../helpers/stack.js'
import t from 'tap'
import { createAgentClient, createWidgetClient, type Message } from 'parley/client'
import { createTenant, type Json } from '../../helpers/admin.js'
import { connect } from '../../helpers/client.js'
import { startEngine } from '../../helpers/engine.js'
import { FAST, ids, until } from './fixture.js'

t.test('redis-server SIGKILLed and restarted: sends made meanwhile wait in the outbox and land once', async (t) => {
  const redis = await startCrashableRedis(t)
  const engine = await startEngine(t, { redisUrl: redis.url, env: { CONN_RATE_POINTS: '10000' } })
  const tenant = await createTenant(engine.http, { inbox: { autoAssign: false } })
  const widget = createWidgetClient({ url: engine.http, websiteToken: tenant.inbox['websiteToken'] as string, ...FAST })
  const agent = createAgentClient({ url: engine.http, token: tenant.agents[0]?.token ?? '', ...FAST })
  t.teardown(() => {
    widget.close()
    agent.close()
  })
  const errors: unknown[] = []
  widget.on('error', (e) => errors.push(e))
  agent.on('error', (e) => errors.push(e))
  await Promise.all([widget.whenSynced(), agent.whenSynced()])
  const conv = await widget.openConversation()
  await agent.get(conv.id)
  await widget.send(conv.id, 'before')

  await redis.crash()
  const sends: Promise<Message>[] = []
  for (let i = 0; i < 3; i++) {
    sends.push(widget.send(conv.id, `during w${i}`))
    sends.push(agent.send(conv.id, `during a${i}`))
  }
  let settled = false
  void Promise.allSettled(sends).then(() => (settled = true))
  await new Promise((r) => setTimeout(r, 2500)) // several `unavailable` answers and retries
  t.notOk(settled, 'no send settles while Redis is down')
  t.ok(widget.outbox().length === 3 && agent.outbox().length === 3, 'they wait in the outboxes')

  await redis.restart()
  const acked = await Promise.all(sends)
  t.same(acked.map((m) => m.content), ['during w0', 'during a0', 'during w1', 'during a1', 'during w2', 'during a2'], 'every send acknowledged')
  t.same([widget.outbox(), agent.outbox()], [[], []], 'the outboxes are empty')

  // what the server holds, read by a fresh raw agent socket (not through the clients under test)
  const raw = await connect(`${engine.ws}/ws/agent?token=${encodeURIComponent(tenant.agents[0]?.token ?? '')}`)
  const page = await raw.request('history', { conversationId: conv.id, limit: 200 })
  await raw.close()
  t.equal(page['ok'], true)
  const server = page['data']['messages'] as (Json & { id: string; content: string; private: boolean })[]
  for (const c of ['before', ...acked.map((m) => m.content)]) {
    t.equal(server.filter((m) => m.content === c).length, 1, `"${c}" is on the server once`)
  }
  await until(() => ids(agent.messages(conv.id)).join() === ids(server).join(), 10_000, 'the agent to hold the server history')
  const visible = server.filter((m) => !m.private)
  await until(() => ids(widget.messages(conv.id)).join() === ids(visible).join(), 10_000, 'the widget to hold the server history')
  t.pass('both clients hold exactly the server history, in order')
  t.same(errors, [], 'no error events: unavailable is retried, not surfaced')
})
