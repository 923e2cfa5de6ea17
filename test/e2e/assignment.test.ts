import t from 'tap'
import { Redis } from 'ioredis'
import { DEFAULT_PARTITIONS, keysFor, partitionOf } from '../../lua/keys.js'
import { adminPost, createTenant } from '../helpers/admin.js'
import { connect, type Client } from '../helpers/client.js'
import { startEngine } from '../helpers/engine.js'
import { startTestRedis } from '../helpers/stack.js'

const FAST = { PRESENCE_GRACE_MS: '1500', SWEEP_MS: '100', CONN_RATE_POINTS: '100000', OPS_PER_SECOND: '10000' }

t.test('200 concurrent auto-assignments from two engine processes respect caps and assign once', async (t) => {
  const redis = await startTestRedis(t)
  const nodeA = await startEngine(t, { redisUrl: redis.url, env: FAST })
  const nodeB = await startEngine(t, { redisUrl: redis.url, env: FAST })
  const tenant = await createTenant(nodeA.http, { agents: 3, agent: { maxConversations: 50 } })
  const agents: Client[] = []
  for (const [i, a] of tenant.agents.entries()) agents.push(await connect(`${(i % 2 ? nodeB : nodeA).ws}/ws/agent?token=${encodeURIComponent(a.token)}`))
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const widgets = await Promise.all(Array.from({ length: 200 }, (_, i) => connect(`${(i % 2 ? nodeB : nodeA).ws}/ws/widget?website_token=${site}`)))
  const replies = await Promise.all(widgets.map((w) => w.request('conversation.open')))
  t.ok(replies.every((r) => r['ok']), 'every open succeeded')
  const convs = replies.map((r) => r['data'].conversation as Record<string, any>)
  const r = new Redis(redis.url)
  t.teardown(() => r.quit())
  const k = keysFor(partitionOf(tenant.account['id'] as string, DEFAULT_PARTITIONS))
  const byAgent = new Map<string, number>()
  let assignedActivities = 0
  for (const c of convs) {
    const h = await r.hgetall(k.conversation(c['id'] as string))
    if (h['assigneeId']) byAgent.set(h['assigneeId'], (byAgent.get(h['assigneeId']) ?? 0) + 1)
    const log = await r.xrange(k.conversationLog(c['id'] as string), '-', '+')
    const assigns = log.filter(([, f]) => /Assigned to/.test(f[1] ?? '')).length
    t.ok(assigns <= 1, 'assigned at most once')
    assignedActivities += assigns
  }
  t.same([...byAgent.values()].sort(), [50, 50, 50], 'every agent filled exactly to its cap, nobody over')
  t.equal(assignedActivities, 150)
  t.equal(await r.zcard(k.inboxQueue(tenant.inbox['id'] as string)), 50, 'the rest wait in the queue')
  for (const a of tenant.agents) t.equal(await r.zcard(k.agentOpen(a.agent['id'] as string)), 50)
  await Promise.all([...widgets, ...agents].map((c) => c.close()))
})

t.test('queue, presence deltas, agentsOnline, manual assignment', async (t) => {
  const redis = await startTestRedis(t)
  const nodeA = await startEngine(t, { redisUrl: redis.url, env: FAST })
  const nodeB = await startEngine(t, { redisUrl: redis.url, env: FAST })
  const tenant = await createTenant(nodeA.http, { agents: 2 })
  const tokenOf = (i: number) => encodeURIComponent(tenant.agents[i]?.token ?? '')
  const idOf = (i: number) => tenant.agents[i]?.agent['id'] as string
  const site = encodeURIComponent(tenant.inbox['websiteToken'] as string)
  const open: Client[] = []
  t.teardown(() => Promise.all(open.map((c) => c.close())))
  const keep = (c: Client) => (open.push(c), c)

  // nobody online: conversations queue, the widget sees agentsOnline false
  const w1 = keep(await connect(`${nodeA.ws}/ws/widget?website_token=${site}`))
  const w2 = keep(await connect(`${nodeB.ws}/ws/widget?website_token=${site}`))
  t.equal(w1.hello['inbox'].agentsOnline, false)
  const c1 = (await w1.request('conversation.open'))['data'].conversation
  const c2 = (await w2.request('conversation.open'))['data'].conversation
  t.equal(c1.assigneeId, null)

  t.test('a queued conversation is assigned when an agent comes online, oldest first', async (t) => {
    const ann = keep(await connect(`${nodeB.ws}/ws/agent?token=${tokenOf(0)}`))
    const upd = await ann.waitFor((f) => f['type'] === 'conversation.updated' && f['data'].conversation.id === c1.id && f['data'].conversation.assigneeId === idOf(0))
    t.ok(upd)
    await ann.waitFor((f) => f['type'] === 'conversation.updated' && f['data'].conversation.id === c2.id)
    const order = ann.frames.filter((f) => f['type'] === 'conversation.updated').map((f) => f['data'].conversation.id)
    t.same(order.slice(0, 2), [c1.id, c2.id], 'oldest first')
    t.match(await w1.waitFor((f) => f['type'] === 'presence.updated'), { data: { agentsOnline: true } }, 'widget learns an agent is online')
    t.match(await w1.waitFor((f) => f['type'] === 'conversation.updated'), { data: { changed: ['assigneeId'] } }, 'the contact sees the assignment')
  })

  t.test('presence deltas reach the other agents; two connections; grace window', async (t) => {
    const ann = open.find((c) => c.hello['agent']?.id === idOf(0)) as Client
    const bob1 = keep(await connect(`${nodeA.ws}/ws/agent?token=${tokenOf(1)}`))
    t.match(await ann.waitFor((f) => f['type'] === 'presence.updated' && f['data'].agent.id === idOf(1)), { data: { agent: { online: true, availability: 'online' } } })
    const bob2 = keep(await connect(`${nodeB.ws}/ws/agent?token=${tokenOf(1)}`))
    await bob1.close()
    await new Promise((r) => setTimeout(r, 2500))
    let list = await ann.request('agents.list')
    t.match(list['data'].agents.find((a: { id: string }) => a.id === idOf(1)), { online: true }, 'still online with one connection left')
    await bob2.close()
    const off = await ann.waitFor((f) => f['type'] === 'presence.updated' && f['data'].agent.id === idOf(1) && f['data'].agent.online === false, 8000)
    t.ok(off, 'offline after the grace window once both closed')
    list = await ann.request('agents.list')
    t.match(list['data'].agents.find((a: { id: string }) => a.id === idOf(1)), { online: false })
    const busy = await ann.request('presence.set', { availability: 'busy' })
    t.match(busy, { ok: true, data: { agent: { availability: 'busy', online: true } } })
    t.match(await w2.waitFor((f) => f['type'] === 'presence.updated' && f['data'].agentsOnline === false), { data: { agentsOnline: false } }, 'busy agents do not count as online for the widget')
    t.match(await ann.request('presence.set', { availability: 'away' }), { ok: false, error: { code: 'bad_request' } })
    await ann.request('presence.set', { availability: 'online' })
  })

  t.test('manual assignment: CAS conflict, forbidden outsider, activity message, null, auto', async (t) => {
    const ann = open.find((c) => c.hello['agent']?.id === idOf(0)) as Client
    const bob = keep(await connect(`${nodeA.ws}/ws/agent?token=${tokenOf(1)}`))
    const r = await bob.request('conversation.assign', { conversationId: c1.id, assigneeId: idOf(1), expectedAssigneeId: idOf(0) })
    t.match(r, { ok: true, data: { conversation: { assigneeId: idOf(1) } } })
    t.match(await ann.waitFor((f) => f['type'] === 'message.created' && /Assigned to Agent 2 by Agent 2|self-assigned/.test(f['data'].message.content)), { data: { message: { type: 'activity' } } })
    t.match(await ann.request('conversation.assign', { conversationId: c1.id, assigneeId: idOf(0), expectedAssigneeId: idOf(0) }), { ok: false, error: { code: 'conflict' } })
    const { body } = await adminPost(nodeA.http, `/api/v1/accounts/${tenant.account['id']}/agents`, { name: 'Outsider', inboxIds: [] })
    t.match(await bob.request('conversation.assign', { conversationId: c1.id, assigneeId: body['agent'].id }), { ok: false, error: { code: 'forbidden' } })
    t.match(await bob.request('conversation.assign', { conversationId: c1.id, assigneeId: null }), { ok: true, data: { conversation: { assigneeId: null } } })
    const auto = await bob.request('conversation.assign', { conversationId: c1.id, assigneeId: 'auto' })
    t.ok([idOf(0), idOf(1)].includes(auto['data'].conversation.assigneeId), 'auto picks an online member')
    t.match(await bob.request('conversation.assign', { conversationId: c1.id }), { ok: false, error: { code: 'bad_request' } })
  })
})
