// Conversation lifecycle on a real local Redis Cluster (test/cluster/fixture.ts: 3 masters + 3
// replicas, two engine nodes, the archiver): resume after a disconnect, round robin with caps and
// a draining queue, snooze wake-up by the scheduler, eviction and rehydration, and the webhook
// dispatcher on the cluster. Scheduler, sweeps and retention are shortened through the env.
import { createHmac } from 'node:crypto'
import t from 'tap'
import postgres from 'postgres'
import { verifySignature } from '../../archiver/webhooks/sign.js'
import { adminPost, type Json, type Tenant } from '../helpers/admin.js'
import { fullHistory, type Client } from '../helpers/client.js'
import { ADMIN_TOKEN } from '../helpers/engine.js'
import { eventually } from '../e2e/fixture.js'
import { startDispatcher, startReceiver, until } from '../webhooks/fixture.js'
import { clusterStack, ok } from './fixture.js'

const RETENTION_MS = 1000
const WOKE = 'Conversation was reopened (snooze ended)'
const isEvent = (type: string, pred: (d: Json) => boolean) => (f: Json) => f['op'] === 'event' && f['type'] === type && pred(f['data'] as Json)
const texts = (msgs: Json[]) => msgs.map((m) => m['content'] as string)

/** every message of a conversation through `history`, paging back into PostgreSQL */
const allHistory = async (c: Client, conversationId: string): Promise<Json[]> =>
  (await fullHistory(c, conversationId)).map((m) => ({ id: m['id'], type: m['type'], content: m['content'], private: m['private'], sender: m['sender'], createdAt: m['createdAt'] }))

t.test('conversation lifecycle on a 3-master cluster', async (t) => {
  // sweeps (queue drain, eviction passes) and the scheduler every 500 ms: quick enough for the
  // waits below, light enough for 2 engines × 64 partitions on a small machine
  const s = await clusterStack(t, {
    env: { SCHEDULER_MS: '500', SWEEP_MS: '500', RETENTION_MS: String(RETENTION_MS), OPS_PER_SECOND: '10000', WEBHOOKS_ALLOW_PRIVATE: '1' },
  })
  const { nodeA, nodeB, client } = s
  // the dispatcher starts with the stack, as `npm start` runs it; its test comes last (so on a
  // loaded machine its start, migrations included, has the other tests' time)
  const dispatcher = startDispatcher(t, '', s.pg.url, { REDIS_CLUSTER_NODES: s.cluster.seeds }, 60_000)
  dispatcher.catch(() => {}) // awaited (and failed) by the webhooks test
  // autoAssign off, so no assignment activity joins the messages these tests count
  const { onDistinctMasters: quiet } = await s.spreadTenants(2, { agents: 2, inbox: { autoAssign: false } })
  t.equal(quiet.length, 2, 'tenants on two different masters')

  await t.test('resume: a reconnecting client gets exactly what it missed, in order', async (t) => {
    for (const tenant of quiet) {
      const onA = s.urls(nodeA, tenant)
      const onB = s.urls(nodeB, tenant)
      const agent = await s.open(onA.agent())
      const widget = await s.open(onB.widget())
      const session = widget.hello['session'] as string
      const convId = (await ok(widget, 'conversation.open'))['conversation']['id'] as string
      const first = (await ok(widget, 'message.send', { conversationId: convId, content: 'first' }))['message']['id'] as string
      await agent.waitFor(isEvent('message.created', (d) => d['message'].id === first))

      // the agent goes away; the contact writes on; the agent comes back on the other node
      await agent.close()
      const missed: string[] = []
      for (let i = 0; i < 5; i++) missed.push((await ok(widget, 'message.send', { conversationId: convId, content: `missed ${i}` }))['message']['id'] as string)
      const back = await s.open(onB.agent())
      const resumed = await ok(back, 'resume', { conversationId: convId, after: first })
      t.same((resumed['messages'] as Json[]).map((m) => m['id']), missed, `${tenant.account['id']}: the agent gets the five it missed, in order`)
      t.equal(resumed['complete'], true)

      // the contact goes away; the agent answers; the contact comes back, by session, on the other node
      const lastSeen = missed.at(-1) as string
      await widget.close()
      const answers: string[] = []
      for (let i = 0; i < 3; i++) answers.push((await ok(back, 'message.send', { conversationId: convId, content: `answer ${i}` }))['message']['id'] as string)
      await ok(back, 'message.send', { conversationId: convId, content: 'a private note', private: true })
      const again = await s.open(onA.widget({ session }))
      t.equal(again.hello['contact']['id'], widget.hello['contact']['id'], 'the same contact')
      const contactResumed = await ok(again, 'resume', { conversationId: convId, after: lastSeen })
      t.same((contactResumed['messages'] as Json[]).map((m) => m['id']), answers, 'the contact gets the three answers, not the note')
      t.equal(contactResumed['complete'], true)
    }
  })

  await t.test('round robin across nodes: in turn, an agent at capacity skipped, the queue drains', async (t) => {
    const tenant = (await s.spreadTenants(1, { agents: 3, agent: { maxConversations: 2 }, inbox: { autoAssign: true } })).tenants[0] as Tenant
    const accountId = tenant.account['id'] as string
    const agentIds = tenant.agents.map((a) => a.agent['id'] as string)
    // the first agent may take one conversation only
    const capped = agentIds[0] as string
    const res = await fetch(`${nodeA.http}/api/v1/accounts/${accountId}/agents/${capped}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ maxConversations: 1 }),
    })
    t.equal(res.status, 200, 'cap lowered')
    // agents on both nodes: the capped one on B, the others on A and B
    const nodeOf = (i: number) => (i % 2 === 0 ? nodeB : nodeA)
    const agents = await Promise.all(agentIds.map((_, i) => s.open(s.urls(nodeOf(i), tenant).agent(i))))
    await eventually(async () => {
      const list = (await ok(agents[1] as Client, 'agents.list'))['agents'] as Json[]
      return list.filter((a) => a['online'] === true).length === 3 ? true : undefined
    }, 10_000)

    const openOne = async (i: number) => {
      const w = await s.open(s.urls(i % 2 === 0 ? nodeA : nodeB, tenant).widget())
      return (await ok(w, 'conversation.open'))['conversation'] as Json
    }
    const convs: Json[] = []
    for (let i = 0; i < 6; i++) convs.push(await openOne(i))
    const firstRound = convs.slice(0, 3).map((c) => c['assigneeId'] as string)
    t.same([...firstRound].sort(), [...agentIds].sort(), 'the first three go to three different agents')
    t.same(convs.slice(3, 5).map((c) => c['assigneeId']), firstRound.filter((id) => id !== capped), 'then in the same turn, skipping the agent at capacity')
    const queued = convs[5] as Json
    t.equal(queued['assigneeId'], null, 'everyone at capacity: the sixth waits')
    t.equal(await client.zscore(s.keysOf(accountId).inboxQueue(tenant.inbox['id'] as string), queued['id'] as string) === null, false, 'in the inbox queue')
    for (const [i, id] of agentIds.entries()) {
      const mine = convs.filter((c) => c['assigneeId'] === id).map((c) => c['id'])
      t.equal(await client.zcard(s.keysOf(accountId).agentOpen(id)), mine.length, `agent ${i}: its load in Redis`)
    }

    // the capped agent (on node B) resolves from node A's connection of another agent: capacity frees
    const cappedConv = convs.find((c) => c['assigneeId'] === capped) as Json
    await ok(agents[1] as Client, 'conversation.status', { conversationId: cappedConv['id'], status: 'resolved' })
    const cappedSocket = agents[0] as Client
    const drained = await cappedSocket.waitFor(isEvent('conversation.updated', (d) => d['conversation'].id === queued['id'] && d['conversation'].assigneeId === capped), 15_000)
    t.ok(drained, 'the queued conversation goes to the agent whose capacity freed, within a sweep')
    t.equal(await client.zscore(s.keysOf(accountId).inboxQueue(tenant.inbox['id'] as string), queued['id'] as string), null, 'off the queue')
    const log = await allHistory(cappedSocket, queued['id'] as string)
    t.equal(log.filter((m) => /^Assigned to .* by round robin/.test(m['content'] as string)).length, 1, 'assigned once')
  })

  await t.test('snooze: the scheduler wakes it on time; a contact message reopens it early', async (t) => {
    const tenant = quiet[1] as Tenant
    const k = s.keysOf(tenant.account['id'] as string)
    const agent = await s.open(s.urls(nodeA, tenant).agent(0))
    const watcher = await s.open(s.urls(nodeB, tenant).agent(1))
    const widget = await s.open(s.urls(nodeB, tenant).widget())
    const convId = (await ok(widget, 'conversation.open'))['conversation']['id'] as string
    await ok(widget, 'message.send', { conversationId: convId, content: 'please call me back' })

    const until1 = Date.now() + 1500
    t.match(await ok(agent, 'conversation.status', { conversationId: convId, status: 'snoozed', snoozedUntil: until1 }), { conversation: { status: 'snoozed', snoozedUntil: until1 } })
    t.equal(Number(await client.zscore(k.snoozed, convId)), until1, 'on the wake-up schedule')
    const woke = await watcher.waitFor(isEvent('conversation.updated', (d) => d['conversation'].id === convId && d['conversation'].status === 'open'), 15_000)
    t.ok(Date.now() >= until1, 'not before its time')
    t.match(woke['data'], { conversation: { status: 'open', snoozedUntil: null }, changed: ['status', 'snoozedUntil'] }, 'the agent on the other node hears the wake-up')
    await agent.waitFor(isEvent('message.created', (d) => d['message'].conversationId === convId && d['message'].content === WOKE), 5000)
    t.equal(await client.zscore(k.snoozed, convId), null, 'off the schedule')
    t.equal(texts(await allHistory(agent, convId)).filter((c) => c === WOKE).length, 1, 'one wake-up activity')

    await ok(agent, 'conversation.status', { conversationId: convId, status: 'snoozed', snoozedUntil: Date.now() + 600_000 })
    await ok(widget, 'message.send', { conversationId: convId, content: 'actually, now' })
    t.ok(await watcher.waitFor(isEvent('conversation.updated', (d) => d['conversation'].id === convId && d['conversation'].status === 'open' && d['changed'].includes('snoozedUntil'))), 'the contact reopens it')
    t.match((await ok(agent, 'conversation.get', { conversationId: convId }))['conversation'], { status: 'open', snoozedUntil: null })
    t.equal(await client.zscore(k.snoozed, convId), null, 'off the schedule again')
    t.match(texts(await allHistory(agent, convId)).slice(-2), ['actually, now', 'Conversation was reopened'])
  })

  await t.test('eviction: a resolved, archived conversation and its contact leave Redis and come back intact', async (t) => {
    const tenant = quiet[0] as Tenant
    const accountId = tenant.account['id'] as string
    const k = s.keysOf(accountId)
    const slot = s.slotOf(accountId)
    const keysNaming = async (id: string) => {
      const owner = s.cluster.node(await s.cluster.ownerOf(slot))
      return ((await owner.call('CLUSTER', 'GETKEYSINSLOT', slot, 100_000)) as string[]).filter((key) => key.includes(id))
    }
    // archived first (the archiver's lag), then the next eviction pass; a timeout says why it stayed
    const metrics = async () => (await Promise.all([nodeA.http, nodeB.http, `http://127.0.0.1:${s.archiver.port}`].map(async (u) => (await fetch(`${u}/metrics`)).text())))
      .join('\n').split('\n').filter((l) => /^parley_(eviction_skipped|conversations_evicted|contacts_evicted|archiver_lag|archiver_events_total)/.test(l))
    const gone = (key: string, what: string) => eventually(async () => ((await client.exists(key)) === 0 ? true : undefined), 30_000)
      .then(() => t.pass(what), async (err: unknown) => { throw new Error(`${what}: ${String(err)}; ${key} stays; ${(await metrics()).join('; ')}`) })
    const hash = createHmac('sha256', tenant.inbox['hmacSecret'] as string).update('vip-7').digest('hex')
    const identified = { identifier: 'vip-7', identifier_hash: hash }
    const agent = await s.open(s.urls(nodeA, tenant).agent())
    const widget = await s.open(s.urls(nodeB, tenant).widget(identified))
    const contactId = widget.hello['contact']['id'] as string
    const session = widget.hello['session'] as string
    await ok(widget, 'contact.update', { name: 'Vera', customAttributes: { plan: 'gold' } })
    const conv = (await ok(widget, 'conversation.open'))['conversation']['id'] as string
    for (let i = 0; i < 14; i++) await ok(i % 2 === 0 ? widget : agent, 'message.send', { conversationId: conv, content: `m${i}` })
    await ok(agent, 'message.send', { conversationId: conv, content: 'note', private: true })
    await ok(agent, 'conversation.update', { conversationId: conv, priority: 'high', customAttributes: { seats: 3 } })
    await ok(agent, 'conversation.status', { conversationId: conv, status: 'resolved' })
    const before = (await ok(agent, 'conversation.get', { conversationId: conv }))['conversation'] as Json
    const agentHistory = await allHistory(agent, conv)
    const contactHistory = await allHistory(widget, conv)
    t.equal(agentHistory.length, 16, '14 messages, the note, the resolve activity (more than the hot tail of 10)')
    await widget.close()

    await gone(k.conversation(conv), 'the conversation is evicted once archived')
    t.same(await keysNaming(conv), [], 'no key of its slot names it')
    t.same((await ok(agent, 'conversation.get', { conversationId: conv }))['conversation'], before, 'conversation.get brings it back, the same fields')
    t.same(await allHistory(agent, conv), agentHistory, 'the same messages, ids and order')

    await gone(k.conversation(conv), 'evicted again')
    await gone(k.contact(contactId), 'the contact is evicted too')
    const bySession = await s.open(s.urls(nodeA, tenant).widget({ session }))
    t.equal(bySession.hello['contact']['id'], contactId, 'back by session: the same contact')
    t.same(await allHistory(bySession, conv), contactHistory, 'it reads the evicted conversation as before')
    await bySession.close()

    await gone(k.contact(contactId), 'the contact is evicted again')
    const byIdentifier = await s.open(s.urls(nodeB, tenant).widget(identified))
    t.match(byIdentifier.hello['contact'], { id: contactId, name: 'Vera', identifier: 'vip-7', verified: true, customAttributes: { plan: 'gold' } }, 'back by identifier: the same contact, intact')
    await gone(k.conversation(conv), 'and the conversation again')
    const sent = (await ok(byIdentifier, 'message.send', { conversationId: conv, content: 'me again' }))['message'] as Json
    t.match((await ok(agent, 'conversation.get', { conversationId: conv }))['conversation'], { status: 'open', priority: 'high', customAttributes: { seats: 3 } }, 'the contact reopens it, every field kept')
    const after = await allHistory(agent, conv)
    t.same(after.slice(0, agentHistory.length), agentHistory, 'every earlier message, same ids')
    t.match(after.slice(agentHistory.length), [{ id: sent['id'], content: 'me again' }, { content: 'Conversation was reopened' }])
  })

  await t.test('webhooks: the dispatcher on the cluster delivers each message and typing once, signed', async (t) => {
    await dispatcher
    const receiver = await startReceiver(t)
    const sent = new Map<string, { accountId: string; secret: string }>()
    const secrets = new Map<string, string>()
    const typed = new Map<string, string>()
    for (const tenant of quiet) {
      const accountId = tenant.account['id'] as string
      const r = await adminPost(nodeA.http, `/api/v1/accounts/${accountId}/webhooks`, { url: receiver.url, events: ['message_created', 'conversation_typing_on'] })
      t.equal(r.status, 200, 'webhook created')
      secrets.set(accountId, r.body['webhook'].secret as string)
    }
    for (const [i, tenant] of quiet.entries()) {
      const accountId = tenant.account['id'] as string
      const widget = await s.open(s.urls(i === 0 ? nodeA : nodeB, tenant).widget())
      const convId = (await ok(widget, 'conversation.open'))['conversation']['id'] as string
      for (let n = 0; n < 5; n++) {
        const id = (await ok(widget, 'message.send', { conversationId: convId, content: `hook ${n}` }))['message']['id'] as string
        sent.set(id, { accountId, secret: secrets.get(accountId) as string })
      }
      await ok(widget, 'typing', { conversationId: convId, on: true })
      typed.set(convId, accountId)
    }
    const ofOurs = () => receiver.received.filter((r) => sent.has(r.body['data']?.message?.id))
    await until(() => (new Set(ofOurs().map((r) => r.body['data'].message.id)).size === sent.size ? true : undefined), 30_000, 'every message delivered')
    // typing is no stream entry: the dispatcher hears it through its shard subscriptions
    const typings = () => receiver.received.filter((r) => r.event === 'conversation_typing_on' && typed.has(r.body['data']?.conversationId))
    await until(() => (typings().length >= typed.size ? true : undefined), 15_000, 'typing delivered')
    t.same(typings().map((r) => r.body['accountId']).sort(), [...typed.values()].sort(), 'typing on both masters delivered, once each, to its account')
    const sql = postgres(s.pg.url, { max: 1, onnotice: () => {} })
    t.teardown(() => sql.end({ timeout: 2 }))
    const ids = [...secrets.keys()]
    const rows = await until(async () => {
      const r = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from webhook_deliveries where account_id in ${sql(ids)} group by status`
      return r.length === 1 && r[0]?.status === 'delivered' && r[0].n === sent.size + typed.size ? r : undefined
    }, 10_000, 'every delivery marked delivered')
    t.same(rows, [{ status: 'delivered', n: sent.size + typed.size }], 'the queue owes nothing more: one delivery per message and typing')
    const got = ofOurs()
    t.equal(got.length, sent.size, `${sent.size} messages of two accounts on two masters: each delivered once`)
    for (const r of got) {
      const want = sent.get(r.body['data'].message.id) as { accountId: string; secret: string }
      t.equal(r.body['accountId'], want.accountId)
      t.ok(verifySignature(r.signature, r.raw, want.secret), 'signed with its account\'s webhook secret')
    }
    t.equal(new Set(receiver.received.map((r) => r.deliveryId)).size, receiver.received.length, 'no delivery id twice')
  })
})
